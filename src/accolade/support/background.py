"""A background pass that repeats: run it, sleep until kicked or until it is due again, and stop
only between passes (a pass cancelled mid-transaction could leave SQLite's write lock to the
pool). The outbox relay and the contest scheduler are both one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("accolade.background")


class Repeating:
    """Runs `run_pass` until stopped; each pass returns how long to sleep before the next.

    A `kick()` during a pass makes the next pass start at once (the wake flag is cleared before
    a pass, not after it). A failing pass is logged and retried after `retry_s`."""

    def __init__(
        self, name: str, run_pass: Callable[[], Awaitable[float]], *, retry_s: float
    ) -> None:
        self.name = name
        self.run_pass = run_pass
        self.retry_s = retry_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def kick(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._stopping

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Let a pass in progress finish (its transaction commits or rolls back), then end;
        cancel only if it does not finish in time."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # a kick from here on is seen by the wait below
            try:
                sleep_s = await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: a pass failed; retrying in %.1fs", self.name, self.retry_s)
                sleep_s = self.retry_s
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=sleep_s)
