"""Real `accolade serve` processes, started as an operator starts them: for the fault tests (killed
with SIGKILL by their own process id, restarted on the same database and port) and the two-node
tests (two processes on one PostgreSQL database, fanned out through Redis)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx
import pytest

from accolade.auth import issue_token
from accolade.domain.identity import Role
from tests.conftest import unused_port

ACCOLADE = [sys.executable, "-m", "accolade"]
SECRET = "nodes-secret-" + "x" * 40
ADMIN = {"Authorization": f"Bearer {issue_token(SECRET, 'admin', Role.ADMIN, 3600)}"}
START_S = 30
HTTP_TIMEOUT_S = 10


def clean_env(fast_path: str | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without any ACCOLADE_* variable (a test's settings must not
    leak into a node), plus `ACCOLADE_FAST_PATH=fast_path` when given, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCOLADE_")}
    if fast_path is not None:
        env["ACCOLADE_FAST_PATH"] = fast_path
    env.update(extra)
    return env


@dataclass
class Node:
    """One `accolade serve` process; `start()` again after `kill()` restarts it on the same port
    and database, its output appended to the same log.

    `fast_path` is the node's ACCOLADE_FAST_PATH (None: unset, the default an operator gets); the
    real-time tests pass the mode their `fast_path` fixture chose."""

    name: str
    cwd: Path
    database_url: str
    redis_url: str | None = None
    fast_path: str | None = None
    port: int = field(default_factory=unused_port)
    process: subprocess.Popen[str] | None = None
    log: TextIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.cwd / f"node-{self.name}.log"

    def http(self) -> httpx.AsyncClient:
        """A client of this node with an admin token."""
        return httpx.AsyncClient(base_url=self.url, headers=ADMIN, timeout=HTTP_TIMEOUT_S)

    def start(self) -> None:
        args = ["serve", "--port", str(self.port), "--database-url", self.database_url]
        if self.redis_url:
            args += ["--redis-url", self.redis_url]
        env = clean_env(
            self.fast_path,
            ACCOLADE_JWT_SECRET=SECRET,
            ACCOLADE_RELAY_POLL_INTERVAL_S="0.2",
            ACCOLADE_SESSION_FLUSH_INTERVAL_S="0.5",
            ACCOLADE_LOG_LEVEL="warning",
            COLUMNS="200",
        )
        self.log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [*ACCOLADE, *args],
            cwd=self.cwd,
            env=env,
            stdout=self.log,  # a file, not a pipe: a chatty server never blocks on a full pipe
            stderr=subprocess.STDOUT,
            text=True,
        )

    async def ready(self) -> None:
        """Until /health answers 200 (the process exiting, or START_S passing, fails the test)."""
        deadline = time.monotonic() + START_S
        delay_s = 0.02
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise AssertionError(f"node {self.name} exited:\n{self.output()}")
                try:
                    if (await http.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 0.1)
        raise AssertionError(f"node {self.name} did not start in {START_S}s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.log is not None:
            self.log.close()
            self.log = None

    def output(self) -> str:
        if self.log is not None:
            self.log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def started() -> Iterator[list[Node]]:
    """Nodes a test started; each is stopped at the end, whatever happened."""
    nodes: list[Node] = []
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()
