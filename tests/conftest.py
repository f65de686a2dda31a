"""Fixtures: the same suite on SQLite and on PostgreSQL, through the real HTTP app.

PostgreSQL comes from ACCOLADE_TEST_DATABASE_URL (default: the local server). When it cannot be
reached the PostgreSQL half skips with the reason, unless ACCOLADE_REQUIRE_SERVICES=1 (CI).

Every test starts on a migrated, empty database of its own: SQLite tests get a copy of one file
migrated once per run, PostgreSQL tests the run's database (migrated once) with every row deleted.
Under pytest-xdist (`make test` runs two workers) each worker has its own PostgreSQL database.

`@pytest.mark.backends("sqlite")` runs a test (or a module, as `pytestmark`) on the databases it
names only, for checks that are decided before any row is read or written.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy import text

from accolade.app import create_app
from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.identity import Role
from accolade.storage import migrate
from accolade.storage.database import Database
from accolade.storage.models import Base

BACKENDS = ("sqlite", "postgresql")
TEST_SECRET = "test-secret-" + "x" * 40
REQUIRE_SERVICES = os.environ.get("ACCOLADE_REQUIRE_SERVICES") == "1"
PG_SERVER_URL = os.environ.get(
    "ACCOLADE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


# Files whose tests take seconds each (real processes, kills, a browser, fuzzing), longest first.
# They run before the rest: `make test` (pytest-xdist, --dist worksteal) then spreads them over
# the workers early, and the run ends on short tests on both workers instead of one long test.
SLOW_FIRST = (
    "tests/faults/test_kill_mid_burst.py",
    "tests/api/test_openapi_fuzz.py",
    "tests/realtime/test_two_nodes.py",
    "tests/faults/",
    "tests/web/",
    "tests/realtime/test_fastpath.py",
    "tests/realtime/test_limits.py",
    "tests/realtime/test_fastpath_two_nodes.py",
    "tests/realtime/test_bus_outage.py",
    "tests/test_cli.py",
    "tests/test_load.py",
)


def _slowness(item: pytest.Item) -> int:
    path = item.nodeid.partition("::")[0]
    ranks = [rank for rank, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)]
    return ranks[0] if ranks else len(SLOW_FIRST)


@pytest.hookimpl(trylast=True)  # after the deselections of other hooks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_slowness)  # stable: each file keeps its own order


# The collector's pauses grow with the heap: every app a test builds leaves reference cycles, and
# a full collection walks every object the imports made too (FastAPI, SQLAlchemy, schemathesis).
# Collect less often, and never walk again what exists once the tests are collected.
GC_GEN0_THRESHOLD = 50_000


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def unavailable(reason: str) -> None:
    """Skip, or fail when the services are required (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"ACCOLADE_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


REDIS_URL = os.environ.get("ACCOLADE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def reachable_redis(url: str = REDIS_URL) -> str:
    """`url`, once Redis answers a PING there (else skip, or fail under REQUIRE_SERVICES)."""
    probe = aioredis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        await asyncio.wait_for(probe.ping(), timeout=5)
    except (OSError, TimeoutError, aioredis.RedisError) as exc:
        unavailable(f"Redis at {url} is unreachable: {exc}")
    finally:
        await probe.aclose()
    return url


@pytest.fixture
async def redis_url() -> str:
    """The test Redis (ACCOLADE_TEST_REDIS_URL), checked to answer."""
    return await reachable_redis()


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def fresh_postgres_database(prefix: str) -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped when the block ends."""
    try:
        admin = await asyncpg.connect(_asyncpg_dsn(PG_SERVER_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {PG_SERVER_URL} is unreachable: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    # A commit answers before its WAL reaches the disk (a server crash could lose the last few;
    # no test crashes PostgreSQL itself): the suite commits thousands of times.
    await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    base, _, _ = PG_SERVER_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test run, dropped at the end."""
    async with fresh_postgres_database("accolade_test") as url:
        yield url


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, once per run: each SQLite test starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "accolade.db"
    settings = Settings(database_url=f"sqlite:///{path}", jwt_secret=TEST_SECRET, _env_file=None)  # type: ignore[call-arg]
    database = Database(settings.database)
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()  # the last connection closing folds the WAL into the file
    return path


@pytest.hookimpl(tryfirst=True)  # before the `backend` fixture's own params, which stand aside
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is None or "backend" not in metafunc.fixturenames:
        return
    unknown = set(marker.args) - set(BACKENDS)
    if not marker.args or unknown:
        raise pytest.UsageError(f"@pytest.mark.backends takes some of {BACKENDS}: {marker.args}")
    metafunc.parametrize("backend", marker.args)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        path = tmp_path / "accolade.db"
        template: Path = request.getfixturevalue("sqlite_template")
        for suffix in ("", "-wal"):  # a WAL left beside the file holds part of the schema
            if Path(f"{template}{suffix}").exists():
                shutil.copyfile(f"{template}{suffix}", f"{path}{suffix}")
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")  # only PostgreSQL tests need the server
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, jwt_secret=TEST_SECRET, _env_file=None)  # type: ignore[call-arg]


# PostgreSQL databases this run has migrated, with the statement that empties each.
_EMPTYING: dict[str, str] = {}


async def _emptying_statement(settings: Settings) -> str:
    """Migrate the database, then build one statement deleting every row (children before
    parents) and restarting the sequences of the tables' id columns, as TRUNCATE ... RESTART
    IDENTITY would. DELETE, because TRUNCATE makes new files for all 24 tables and their indexes
    each time (0.2 s a test), while a test leaves a few rows (milliseconds to delete)."""
    database = Database(settings.database)
    try:
        await migrate.upgrade(database)
        async with database.transaction() as session:
            sequences = (
                await session.scalars(
                    text(
                        "SELECT DISTINCT seq.oid::regclass::text FROM pg_class seq"
                        " JOIN pg_depend dep ON dep.objid = seq.oid AND dep.deptype IN ('a', 'i')"
                        " JOIN pg_class tab ON tab.oid = dep.refobjid"
                        " WHERE seq.relkind = 'S' AND tab.relname = ANY(:tables)"
                    ),
                    {"tables": [table.name for table in Base.metadata.sorted_tables]},
                )
            ).all()
    finally:
        await database.dispose()
    deletes = [f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
    restarts = [f"ALTER SEQUENCE {sequence} RESTART" for sequence in sorted(sequences)]
    return "; ".join(deletes + restarts)


async def empty_database(settings: Settings) -> None:
    """Migrate the run's PostgreSQL database (once) and empty every table, before a server starts
    on it (emptying under a running relay would race it). Each SQLite test has a file of its own."""
    if settings.database.dialect != "postgresql":
        return
    if settings.database_url not in _EMPTYING:
        _EMPTYING[settings.database_url] = await _emptying_statement(settings)
    connection = await asyncpg.connect(_asyncpg_dsn(settings.database_url), timeout=10)
    try:
        await connection.execute(_EMPTYING[settings.database_url])  # one implicit transaction
    finally:
        await connection.close()


@asynccontextmanager
async def running(application: FastAPI, shutdown_timeout_s: float = 30) -> AsyncIterator[FastAPI]:
    """The app's lifespan around the block. A shutdown that hangs fails the test with the stack of
    every task still running, instead of hanging the whole suite."""
    lifespan = application.router.lifespan_context(application)
    await lifespan.__aenter__()
    try:
        yield application
    finally:
        try:
            await asyncio.wait_for(lifespan.__aexit__(None, None, None), shutdown_timeout_s)
        except TimeoutError:
            stacks = io.StringIO()
            for task in asyncio.all_tasks():
                task.print_stack(file=stacks)
            pytest.fail(f"the app did not shut down in {shutdown_timeout_s}s:\n{stacks.getvalue()}")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    await empty_database(settings)
    async with running(create_app(settings)) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://accolade.test") as c:
        yield c


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth() -> TokenFactory:
    """`auth("42", "user")` -> the Authorization header of a token for that subject and role."""

    def make(
        subject: str = "admin", role: str = "admin", ttl_s: int | None = 3600
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(TEST_SECRET, subject, Role(role), ttl_s)}"}

    return make


@pytest.fixture
def admin(auth: TokenFactory) -> dict[str, str]:
    return auth("admin", "admin")


@pytest.fixture
def service(auth: TokenFactory) -> dict[str, str]:
    return auth("host-app", "service")


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def free_port() -> int:
    return unused_port()
