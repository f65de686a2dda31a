"""Work tied to one transaction's commit, registered on its session: the one way anything in
Accolade acts "when this commits" (the leaderboard rows and their Redis copy, the contest
updates held back, the scheduler's wake-up, the relay).

- `before_commit(session, key, work)`: async work that still writes inside the transaction,
  run once per `key` when the block ends, in the order registered, before the outbox is
  written (so it may still queue room events). If it fails, the whole transaction rolls back.
  `last=True` work runs after all the other work (counters every transaction shares, such as
  rarity's, take their row locks last and in one order, so they never wait inside a cycle).
- `after_commit(session, callback)`: runs once the transaction has committed, in the order
  registered; never after a rollback. A callback only schedules work: one that raises is
  logged and the others still run, because the caller's answer (a 2xx: committed) stands.

`Database.transaction` runs both; nothing else hooks into SQLAlchemy's commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("accolade.commit")

_BEFORE = "accolade.before_commit"
_LAST = "accolade.before_commit.last"
_AFTER = "accolade.after_commit"

BeforeCommit = Callable[[AsyncSession], Awaitable[None]]


def before_commit(
    session: AsyncSession, key: Hashable, work: BeforeCommit, *, last: bool = False
) -> None:
    """Run `work(session)` at the end of this transaction, once for `key` (`last`: after all
    the work registered without it)."""
    session.info.setdefault(_LAST if last else _BEFORE, {}).setdefault(key, work)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Call `callback()` once this transaction has committed."""
    session.info.setdefault(_AFTER, []).append(callback)


async def run_before_commit(session: AsyncSession) -> None:
    # Work may register more work (or after-commit callbacks) while it runs: drain until none.
    while True:
        while pending := session.info.pop(_BEFORE, None):
            for work in pending.values():
                await work(session)
        if not (last := session.info.pop(_LAST, None)):
            return
        for work in last.values():
            await work(session)


def run_after_commit(session: AsyncSession) -> None:
    for callback in session.info.pop(_AFTER, []):
        try:
            callback()
        except Exception:
            log.exception("work scheduled after a commit failed (the commit stands)")
