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

import logging

from accolade.services.contests import ContestService
from accolade.storage.models import utcnow
from accolade.support.background import Repeating

log = logging.getLogger("accolade.contests")

MAX_SLEEP_S = 1.0
MIN_SLEEP_S = 0.01


class ContestScheduler:
    def __init__(self, contests: ContestService, *, max_sleep_s: float = MAX_SLEEP_S) -> None:
        self.contests = contests
        self.max_sleep_s = max_sleep_s
        self._loop = Repeating("contest-scheduler", self._pass, retry_s=max_sleep_s)

    def kick(self) -> None:
        """A contest was created or changed here: look at the schedule again now."""
        self._loop.kick()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Let a pass in progress finish (its transaction commits or rolls back), then end."""
        await self._loop.stop(timeout_s)

    async def _pass(self) -> float:
        changed, due = await self.contests.run_due()
        if changed:
            log.info("contest scheduler: %d status change(s)", changed)
        if due is None:
            return self.max_sleep_s
        # A floor: a due time that stays past (a failing contest) must not spin.
        wait_s = (due - utcnow()).total_seconds()
        return min(max(wait_s, MIN_SLEEP_S), self.max_sleep_s)
