"""Contests go LIVE at `startAt` and ENDED at `endAt` by themselves, on every node, once.

The schedule lives in the database (`contests.start_at`/`end_at` and `status`); this loop only
looks at it. Each node runs one: it performs what is due, then sleeps until the next due time,
at most `max_sleep_s` (so a schedule another node wrote is seen within that), and is woken at
once when this node creates or changes a contest. A transition is a conditional UPDATE (`WHERE
status = 'LIVE' AND end_at <= now`): of several nodes racing for the same contest exactly one
changes the row and announces it; the others match nothing. After a restart the first pass
performs whatever fell due while the node was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from accolade.services.contests import ContestService
from accolade.storage.models import utcnow

log = logging.getLogger("accolade.contests")

MAX_SLEEP_S = 1.0
MIN_SLEEP_S = 0.01


class ContestScheduler:
    def __init__(self, contests: ContestService, *, max_sleep_s: float = MAX_SLEEP_S) -> None:
        self.contests = contests
        self.max_sleep_s = max_sleep_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def kick(self) -> None:
        """A contest was created or changed here: look at the schedule again now."""
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="contest-scheduler")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Let a pass in progress finish (its transaction commits or rolls back), then end."""
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
            sleep_s = self.max_sleep_s
            try:
                self._wake.clear()  # a kick from here on is seen by the wait below
                changed, due = await self.contests.run_due()
                if changed:
                    log.info("contest scheduler: %d status change(s)", changed)
                if due is not None:
                    # A floor: a due time that stays past (a failing contest) must not spin.
                    wait_s = (due - utcnow()).total_seconds()
                    sleep_s = min(max(wait_s, MIN_SLEEP_S), self.max_sleep_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("contest scheduler pass failed; retrying")
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=sleep_s)
