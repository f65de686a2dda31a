"""The `accolade` command, run as a user runs it: a real process and a real port for `serve`
(and for one `token`: its standard output holds the token and nothing else); the other commands
in this process (`invoke`), on the same arguments, environment and directory."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import jwt
import pytest
from rich.console import Console
from typer.testing import CliRunner

from accolade import cli

ACCOLADE = [sys.executable, "-m", "accolade"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCOLADE_")}
    env.update(extra)
    return env


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ACCOLADE, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def invoke(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`accolade ARGS` as `run` runs it, without a new interpreter (which spends seconds importing
    everything): in `cwd`, without the ACCOLADE_* variables of this process, plus `env`; with the
    exit code, standard output and standard error a process would have. In a thread of its own,
    so that the command's `asyncio.run` leaves this thread's event loop alone."""
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ACCOLADE_")}
    environment.update(env)

    def call() -> subprocess.CompletedProcess[str]:
        runner = CliRunner()
        consoles = cli.out, cli.err
        try:
            with contextlib.chdir(cwd):
                with runner.isolation(env=environment):
                    # The consoles a new process makes (they look at its terminal and COLUMNS).
                    cli.out = Console(soft_wrap=True)
                    cli.err = Console(stderr=True, soft_wrap=True)
                result = runner.invoke(cli.app, list(args), env=environment)
        finally:
            cli.out, cli.err = consoles
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a process would print this traceback and exit 1
        return subprocess.CompletedProcess(
            [*ACCOLADE, *args], result.exit_code, result.stdout, result.stderr
        )

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


@contextmanager
def serving_process(
    cwd: Path, port: int, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, list[str], subprocess.Popen[str]]]:
    """`accolade serve` on `port`; yields (base URL, the lines it printed before it was ready,
    the process)."""
    process = subprocess.Popen(
        [*ACCOLADE, "serve", "--port", str(port), *args],
        cwd=cwd,
        env=clean_env(COLUMNS="200", ACCOLADE_LOG_LEVEL="warning", **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise AssertionError("accolade serve exited:\n" + "".join(lines))
            lines.append(line)
            if line.strip().startswith("eyJ"):
                break  # the token is printed last, just before uvicorn starts
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=5).raise_for_status()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, lines, process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def serving(cwd: Path, port: int, *args: str) -> Iterator[tuple[str, list[str]]]:
    """`accolade serve` on `port`; yields (base URL, the lines it printed before it was ready)."""
    with serving_process(cwd, port, *args) as (base, lines, _):
        yield base, lines


def printed_token(lines: list[str]) -> str:
    tokens = [line.strip() for line in lines if line.strip().startswith("eyJ")]
    assert tokens, "serve printed no token:\n" + "".join(lines)
    return tokens[0]


def test_help_explains_each_command_and_option(tmp_path):
    top = invoke("--help", cwd=tmp_path)
    assert top.returncode == 0
    for command in ("serve", "migrate", "token", "load"):
        assert command in top.stdout
    serve = invoke("serve", "--help", cwd=tmp_path, COLUMNS="200").stdout
    for option in ("--host", "--port", "--database-url"):
        assert option in serve
    token = invoke("token", "--help", cwd=tmp_path, COLUMNS="200").stdout
    for option in ("--sub", "--role", "--ttl"):
        assert option in token


def test_token_prints_only_a_signed_jwt(tmp_path):
    result = run(
        "token",
        "--sub",
        "42",
        "--role",
        "service",
        "--ttl",
        "60",
        cwd=tmp_path,
        ACCOLADE_JWT_SECRET="s" * 40,
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), "s" * 40, algorithms=["HS256"])
    assert claims["sub"] == "42"
    assert claims["role"] == "service"
    assert 50 <= claims["exp"] - claims["iat"] <= 70


def test_token_with_ttl_zero_never_expires(tmp_path):
    result = invoke("token", "--sub", "7", "--ttl", "0", cwd=tmp_path, ACCOLADE_JWT_SECRET="s" * 40)
    claims = jwt.decode(result.stdout.strip(), "s" * 40, algorithms=["HS256"])
    assert "exp" not in claims
    assert claims["role"] == "user"


def test_token_refuses_an_unknown_role(tmp_path):
    result = invoke(
        "token", "--sub", "7", "--role", "root", cwd=tmp_path, ACCOLADE_JWT_SECRET="s" * 40
    )
    assert result.returncode == 2
    assert "root" in result.stderr


def test_bad_database_url_is_a_clear_error(tmp_path):
    result = invoke("migrate", "--database-url", "mysql://x@y/z", cwd=tmp_path)
    assert result.returncode == 2
    assert "unsupported database" in result.stderr


def test_migrate_then_again_is_up_to_date(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = invoke("migrate", "--database-url", url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Migrated" in first.stdout
    second = invoke("migrate", "--database-url", url, cwd=tmp_path)
    assert "up to date" in second.stdout


def test_migrate_brings_postgres_up_to_date(tmp_path, postgres_url):
    result = invoke("migrate", "--database-url", postgres_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout or "Migrated" in result.stdout


@pytest.mark.live
def test_serve_on_a_fresh_directory_answers_with_its_printed_token(tmp_path, free_port):
    with serving(tmp_path, free_port) as (base, lines):
        output = "".join(lines)
        assert f"{base}/docs" in output
        assert (tmp_path / "accolade.db").exists()
        token = printed_token(lines)
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{base}/api/users/achievements/definitions", json={"name": "Worker I"}, headers=headers
        )
        assert created.status_code == 201
        assert httpx.get(f"{base}/docs").status_code == 200
        assert "/api/users/achievements/progress" in httpx.get(f"{base}/openapi.json").text
        assert "accolade_http_requests_total" in httpx.get(f"{base}/metrics", headers=headers).text


@pytest.mark.live
def test_generated_secret_survives_a_restart(tmp_path, free_port):
    with serving(tmp_path, free_port) as (_, lines):
        token = printed_token(lines)
    # Not guessable: it is not a fixed default, and a restart keeps it.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "change-me-" * 4, algorithms=["HS256"])
    cli_token = invoke("token", "--sub", "1", "--role", "admin", cwd=tmp_path).stdout.strip()
    with serving(tmp_path, free_port) as (base, _):
        for t in (token, cli_token):
            response = httpx.get(
                f"{base}/api/users/achievements/definitions",
                headers={"Authorization": f"Bearer {t}"},
            )
            assert response.status_code == 200, response.text


def test_each_instance_generates_its_own_long_secret(tmp_path):
    secrets = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        assert invoke("token", "--sub", "1", cwd=tmp_path / name).returncode == 0
        with sqlite3.connect(tmp_path / name / "accolade.db") as db:
            (value,) = db.execute(
                "SELECT value FROM instance_settings WHERE key='jwt_secret'"
            ).fetchone()
        secrets.append(value)
    assert secrets[0] != secrets[1]
    assert all(len(secret) >= 48 for secret in secrets)
