"""Drive the official Socket.IO v4 client (Node.js, tests/node/client.js) from async tests.

    async with NodeSocketClient(
        base_url,
        "/leaderboard",
        token=token,
        transports=["websocket"],
        steps=[
            {"emit": "join:tv-display", "data": {"since": 5}},
            {"waitFor": "joined"},
            {"print": "ready"},
            {"collect": "achievement:celebration", "count": 3},
        ],
    ) as client:
        await client.wait_ready()
        ...  # make the server emit
        event = await client.next_event("achievement:celebration")
        assert event["data"]["title"] == ...
        await client.wait_done()

The step language and the output lines are described at the top of tests/node/client.js. Every
line the script prints is a dict with an "event" key: server events carry "data", and the
script's own markers are "__transport__", "__ready__", "__ack__", "__done__", "__timeout__" and
"__error__".

Node.js and npm are needed: without them the test skips, or fails when
ACCOLADE_REQUIRE_SERVICES=1 (CI). tests/node/node_modules is installed with `npm ci` on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import pytest

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
CLIENT_JS = NODE_DIR / "client.js"
REQUIRE_SERVICES = os.environ.get("ACCOLADE_REQUIRE_SERVICES") == "1"
NPM_CI_TIMEOUT = 300.0
STREAM_LIMIT = 16 * 1024 * 1024  # longest accepted stdout line

Event = dict[str, Any]


class NodeClientError(AssertionError):
    """The Node client did not produce what the test waited for."""


def _unavailable(reason: str) -> NoReturn:
    """Skip, or fail when the services are required (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"ACCOLADE_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _pinned_versions() -> dict[str, str]:
    """Every package tests/node/package.json pins (dependencies and devDependencies)."""
    package = json.loads((NODE_DIR / "package.json").read_text(encoding="utf-8"))
    pinned: dict[str, str] = {}
    for section in ("dependencies", "devDependencies"):
        for name, version in package.get(section, {}).items():
            if isinstance(version, str):
                pinned[name] = version
    return pinned


def _installed_version(name: str) -> str | None:
    installed = NODE_DIR / "node_modules" / name / "package.json"
    try:
        version = json.loads(installed.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) else None


def _stale(pinned: dict[str, str]) -> list[str]:
    """The pinned packages node_modules does not hold at their pinned version."""
    return [name for name, version in pinned.items() if _installed_version(name) != version]


def ensure_node_modules() -> Path:
    """Return tests/node with its node_modules installed (`npm ci` when missing or stale)."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        _unavailable(
            f"{missing} not found on PATH: the Socket.IO client tests need Node.js >= 18 with npm"
        )
    pinned = _pinned_versions()
    if not _stale(pinned):
        return NODE_DIR
    # pytest-xdist workers can get here together: one runs `npm ci`, the others wait for it.
    with (Path(tempfile.gettempdir()) / "accolade-tests-npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not _stale(pinned):
            return NODE_DIR
        command = [npm, "ci", "--no-audit", "--no-fund"]
        try:
            result = subprocess.run(
                command,
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            result = None
    if result is None:
        _unavailable(f"`{' '.join(command)}` in {NODE_DIR} took over {NPM_CI_TIMEOUT:.0f} s")
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        _unavailable(f"`{' '.join(command)}` in {NODE_DIR} exited {result.returncode}:\n{output}")
    if stale := _stale(pinned):
        _unavailable(f"`npm ci` in {NODE_DIR} did not install {', '.join(stale)} as pinned")
    return NODE_DIR


class NodeSocketClient:
    """One `node tests/node/client.js` process running one script; an async context manager."""

    def __init__(
        self,
        url: str,
        namespace: str = "/",
        *,
        steps: Sequence[Mapping[str, Any]] = (),
        token: str | None = None,
        auth: Mapping[str, Any] | None = None,
        transports: Sequence[str] | None = None,
        path: str | None = None,
        query: Mapping[str, str] | None = None,
        timeout_ms: int | None = None,
    ) -> None:
        script: dict[str, Any] = {
            "url": url,
            "namespace": namespace,
            "token": token,
            "steps": [dict(step) for step in steps],
        }
        if auth is not None:
            script["auth"] = dict(auth)
        if transports is not None:
            script["transports"] = list(transports)
        if path is not None:
            script["path"] = path
        if query is not None:
            script["query"] = dict(query)
        if timeout_ms is not None:
            script["timeoutMs"] = timeout_ms
        self.script = script
        self.events: list[Event] = []  # every line read so far, in order
        self.returncode: int | None = None
        self._pending: list[Event] = []  # read but not yet returned by next_event
        self._changed = asyncio.Event()
        self._eof = False
        self._stderr = bytearray()
        self._process: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> NodeSocketClient:
        node_dir = ensure_node_modules()
        node = shutil.which("node")
        assert node is not None  # ensure_node_modules checked it
        self._process = await asyncio.create_subprocess_exec(
            node,
            str(CLIENT_JS),
            json.dumps(self.script),
            cwd=node_dir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=STREAM_LIMIT,
        )
        self._tasks = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the process (if still running) and the readers."""
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process is not None:
            self.returncode = process.returncode
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        try:
            while line := await stdout.readline():
                text = line.decode("utf-8", "replace").strip()
                if not text:
                    continue
                try:
                    event = json.loads(text)
                except ValueError:
                    event = {"event": "__stdout__", "data": text}
                if not isinstance(event, dict):
                    event = {"event": "__stdout__", "data": event}
                self.events.append(event)
                self._pending.append(event)
                self._changed.set()
        finally:
            self._eof = True
            self._changed.set()

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        while chunk := await self._process.stderr.read(65536):
            self._stderr += chunk

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def seen(self, name: str) -> list[Event]:
        """Every line read so far for the event `name` (returned by next_event or not)."""
        return [event for event in self.events if event.get("event") == name]

    def _take(self, name: str | None) -> Event | None:
        for index, event in enumerate(self._pending):
            if name is None or event.get("event") == name:
                return self._pending.pop(index)
        return None

    def _failure(self, message: str) -> NodeClientError:
        tail = "\n".join(json.dumps(event) for event in self.events[-30:]) or "(none)"
        stderr = self.stderr.strip()[-3000:] or "(empty)"
        return NodeClientError(
            f"{message}\nnamespace {self.script['namespace']} at {self.script['url']}"
            f"\nlast lines from the client:\n{tail}\nclient stderr:\n{stderr}"
        )

    # The timeout parameters (ASYNC109) are the API: they also name the wait in the failure.
    async def next_event(self, name: str | None = None, timeout: float = 10) -> Event:  # noqa: ASYNC109
        """The next line not yet returned (the next `name` line when given).

        Lines of other events read meanwhile stay available to later calls.
        """
        if self._process is None:
            raise RuntimeError("use NodeSocketClient as `async with`")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._take(name)
            if event is not None:
                return event
            if self._eof:
                await self._process.wait()
                self.returncode = self._process.returncode
                raise self._failure(
                    f"the client exited ({self.returncode}) before {name or 'any line'!r}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._failure(f"no {name or 'line'!r} from the client within {timeout} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_ready(self, label: str | None = None, timeout: float = 10) -> Event:  # noqa: ASYNC109
        """Wait for the next `print` step (with that label when given)."""
        while True:
            event = await self.next_event("__ready__", timeout)
            if label is None or event.get("label") == label:
                return event

    async def wait_done(self, timeout: float = 30) -> list[Event]:  # noqa: ASYNC109
        """Wait until the script finished all its steps and exited 0; returns all lines."""
        await self.next_event("__done__", timeout)
        code = await self.wait_exit(timeout)
        if code != 0:
            raise self._failure(f"the client exited {code} after __done__")
        return self.events

    async def wait_exit(self, timeout: float = 30) -> int:  # noqa: ASYNC109
        """Wait for the process to exit and every line to be read; returns its exit code."""
        if self._process is None:
            raise RuntimeError("use NodeSocketClient as `async with`")
        try:
            await asyncio.wait_for(self._process.wait(), timeout)
            await asyncio.wait_for(asyncio.gather(*self._tasks), timeout)
        except TimeoutError:
            raise self._failure(f"the client did not exit within {timeout} s") from None
        self.returncode = self._process.returncode
        assert self.returncode is not None
        return self.returncode
