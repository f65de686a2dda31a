"""The `accolade` command: serve, migrate, token, load."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from accolade import __version__
from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.identity import Role
from accolade.services import instance
from accolade.storage import migrate as migrations
from accolade.storage.database import Database

app = typer.Typer(
    help="Accolade: achievements, XP, streaks, leaderboards and live celebrations.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DEV_TOKEN_TTL_S = 7 * 24 * 3600

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///path.db or postgresql://user@host:5432/db "
        "[default: $ACCOLADE_DATABASE_URL or sqlite:///./accolade.db]",
        show_default=False,
    ),
]


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            err.print(f"[red]configuration error[/red] ACCOLADE_{field.upper()}: {error['msg']}")
        raise typer.Exit(2) from exc


def _database(settings: Settings) -> Database:
    return Database(settings.database, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)


async def _prepare(settings: Settings) -> tuple[str | None, str | None, str]:
    """Migrate and resolve the secret; returns (revision before, after, secret)."""
    database = _database(settings)
    try:
        before, after = await migrations.upgrade(database)
        secret = await instance.jwt_secret(database, settings.jwt_secret)
    finally:
        await database.dispose()
    return before, after, secret


def _fail_on_database(settings: Settings, exc: Exception) -> typer.Exit:
    err.print(f"[red]cannot use the database[/red] {settings.database.redacted()}: {exc}")
    return typer.Exit(1)


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to bind [default: $ACCOLADE_HOST or 127.0.0.1]", show_default=False
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on [default: $ACCOLADE_PORT or 5000]", show_default=False
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis-url",
            help="redis://host:6379/0 to fan out between nodes (several `accolade serve` on one "
            "PostgreSQL) [default: $ACCOLADE_REDIS_URL, unset: one node]",
            show_default=False,
        ),
    ] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo",
            help="Run a simulated team (users demo-1..demo-10) that earns XP, sells and plays "
            "contests every few seconds [default: $ACCOLADE_DEMO or off]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the service: REST, Socket.IO, WebSocket and docs on one port. Migrates first."""
    import uvicorn

    from accolade.app import create_asgi

    settings = _settings(
        host=host, port=port, database_url=database_url, redis_url=redis_url, demo=demo
    )
    try:
        before, after, secret = asyncio.run(_prepare(settings))
    except Exception as exc:
        raise _fail_on_database(settings, exc) from exc

    base = f"http://{settings.host}:{settings.port}"
    table = Table.grid(padding=(0, 2))
    table.add_row("TV display", f"{base}/tv")
    table.add_row("Dashboard", f"{base}/dashboard")
    table.add_row("API docs", f"{base}/docs")
    table.add_row("Health", f"{base}/health")
    table.add_row("Socket.IO", f"{base}/socket.io  (namespaces /leaderboard, /training, /)")
    table.add_row(
        "WebSocket", f"ws://{settings.host}:{settings.port}/leaderboard, /training, /game-events"
    )
    table.add_row("Database", settings.database.redacted())
    table.add_row("Fan-out", f"Redis {settings.redis_url}" if settings.redis_url else "in-process")
    table.add_row("Fast path", _fast_path_state(settings))
    if settings.demo:
        table.add_row("Demo", f"a simulated team plays every {settings.demo_interval_s:g} s")
    if before != after:
        table.add_row("Migrated", f"{before or 'empty'} → {after}")
    token = issue_token(secret, "dev-admin", Role.ADMIN, DEV_TOKEN_TTL_S)
    out.print(Panel(table, title=f"Accolade {__version__}", expand=False))
    out.print("Development admin token (7 days; make others with `accolade token`):")
    out.print(token, soft_wrap=True, highlight=False)
    sys.stdout.flush()

    uvicorn.run(create_asgi(settings), **uvicorn_options(settings))


def _fast_path_state(settings: Settings) -> str:
    from accolade.realtime.fastpath import FastPath

    fast_path = FastPath.select(settings.fast_path)
    return "on" if fast_path.enabled else f"off ({fast_path.reason})"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How `accolade serve` runs uvicorn (tests start their servers the same way)."""
    from accolade.realtime.fastpath import FastPath

    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "proxy_headers": False,
        # A WebSocket frame larger than a request body may be is not read: close 1009.
        "ws_max_size": settings.max_body_bytes,
        # The protocol the fast path writes through, without per-message deflate (its frames
        # go out uncompressed); nothing when it is off or the probe refused it.
        **FastPath.select(settings.fast_path).uvicorn_options(),
    }


@app.command()
def migrate(database_url: DatabaseUrlOption = None) -> None:
    """Bring the database to the newest schema (serve does this by itself)."""
    settings = _settings(database_url=database_url)

    async def run() -> tuple[str | None, str | None]:
        database = _database(settings)
        try:
            return await migrations.upgrade(database)
        finally:
            await database.dispose()

    try:
        before, after = asyncio.run(run())
    except Exception as exc:
        raise _fail_on_database(settings, exc) from exc
    if before == after:
        out.print(f"{settings.database.redacted()} is up to date (revision {after}).")
    else:
        out.print(f"Migrated {settings.database.redacted()}: {before or 'empty'} → {after}.")


@app.command()
def token(
    sub: Annotated[
        str, typer.Option("--sub", help="Subject: the user id (any id for service/admin).")
    ],
    role: Annotated[Role, typer.Option(help="What the token may do.")] = Role.USER,
    ttl: Annotated[
        int,
        typer.Option(help="Lifetime in seconds; 0 for a token that never expires.", min=0),
    ] = 86_400,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Print a signed JWT for SUB with ROLE (admin, service, user, display).

    Signed with $ACCOLADE_JWT_SECRET, or with the secret generated and kept in the database.
    Only the token goes to standard output, so `TOKEN=$(accolade token --sub 42)` works.
    """
    if not sub.strip():
        err.print("[red]--sub must not be empty[/red]")
        raise typer.Exit(2)
    settings = _settings(database_url=database_url)
    if settings.jwt_secret:
        secret = settings.jwt_secret
    else:
        try:
            _, _, secret = asyncio.run(_prepare(settings))
        except Exception as exc:
            raise _fail_on_database(settings, exc) from exc
    print(issue_token(secret, sub, role, ttl or None))


@app.command()
def load(
    file: Annotated[
        Path,
        typer.Argument(help="A YAML or JSON file with `achievements`, `quests` and `contests`."),
    ],
    url: Annotated[
        str | None,
        typer.Option(help="Load into a running server (e.g. http://127.0.0.1:5000) over its API."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", help="An admin or service token for --url.", show_default=False),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create or update achievements (by `key`), quests (by `title`) and contests (by `name`)
    from FILE. Loading the same file again changes nothing. Without --url it works on the
    configured database directly, through the same API a server answers."""
    from accolade import load as loading

    try:
        sections = loading.read_file(file)
    except loading.LoadError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from exc
    if url is not None and not token:
        err.print("[red]error[/red] --url needs --token (an admin or service token)")
        raise typer.Exit(2)

    def shown(outcome: loading.Outcome) -> None:
        colour = {"created": "green", "updated": "yellow"}.get(outcome.action, "dim")
        verb = f"would be {outcome.action}" if dry_run and colour != "dim" else outcome.action
        out.print(
            f"  {outcome.section[:-1]} [bold]{outcome.identity}[/bold] "
            f"[{colour}]{verb}[/{colour}]" + (f" (id {outcome.id})" if outcome.id else ""),
            highlight=False,
        )

    async def run() -> loading.Report:
        if url is not None:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
                return await loading.apply(client, sections, dry_run=dry_run, progress=shown)
        settings = _settings(database_url=database_url, relay_enabled=False)
        from accolade.app import create_app

        api = create_app(settings)
        async with api.router.lifespan_context(api):
            admin = issue_token(api.state.services.jwt_secret, "accolade-load", Role.ADMIN, 300)
            transport = httpx.ASGITransport(app=api)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://accolade-load",
                headers={"Authorization": f"Bearer {admin}"},
                timeout=60,
            ) as client:
                return await loading.apply(client, sections, dry_run=dry_run, progress=shown)

    out.print(f"Loading {file}{' (dry run)' if dry_run else ''}:")
    try:
        report = asyncio.run(run())
    except loading.LoadError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from exc
    except httpx.TransportError as exc:
        err.print(f"[red]error[/red] cannot reach {url}: {exc}")
        raise typer.Exit(1) from exc
    out.print(
        f"{report.count('created')} created, {report.count('updated')} updated, "
        f"{report.count('unchanged') + report.count('kept')} already as the file says."
    )


def main() -> None:
    app()
