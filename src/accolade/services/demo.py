"""Demo mode: a simulated sales team that makes the screens come alive with no integration yet.

Started by the app's lifespan when `ACCOLADE_DEMO=1` (or `accolade serve --demo`). Everything goes
through the same services as the API: events through the engine (XP, logins that keep streaks,
sales that move leaderboards and contests), achievements through the achievement service, and
contests through the contest service (one revenue contest at a time, paid out at its end).
Demo users have ids `demo-1`..`demo-10`, demo achievements keys `demo-*` and demo contests names
`Demo Sprint #n`, so the data is easy to recognise. Safe on an empty database (the lifespan
migrates first) and on a restart (achievements are defined once, by key; the streak back-fill
uses idempotency keys; a running demo contest is adopted).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from accolade.domain.contests import ContestStatus
from accolade.domain.errors import Conflict
from accolade.pipeline.commands import EventCommand
from accolade.services.achievements import AchievementService
from accolade.services.contests import ContestChanges, ContestService

log = logging.getLogger("accolade.demo")

Ingest = Callable[[EventCommand], Awaitable[Any]]

# (id, name, days of login streak back-filled on start: a few cross 7 and 14 days)
TEAM: tuple[tuple[str, str, int], ...] = (
    ("demo-1", "Ava Martinez", 15),
    ("demo-2", "Ben Okafor", 3),
    ("demo-3", "Chloé Durand", 8),
    ("demo-4", "Dev Patel", 0),
    ("demo-5", "Elena Rossi", 12),
    ("demo-6", "Finn Larsen", 6),
    ("demo-7", "Grace Kim", 1),
    ("demo-8", "Hugo Silva", 9),
    ("demo-9", "Ines Haddad", 4),
    ("demo-10", "Jonah Weiss", 2),
)

CONTEST_PREFIX = "Demo Sprint #"
CONTEST_PRIZES = ("$500", "$250", "$100")
# A contest lasts this many moves, with this many moves of break before the next.
CONTEST_LENGTH_MOVES = 60
CONTEST_BREAK_MOVES = 10

# Defined once each, by key. Thresholds are low enough that the first minutes unlock some.
ACHIEVEMENTS: tuple[dict[str, Any], ...] = (
    {
        "key": "demo-first-sale",
        "name": "First Sale",
        "description": "Closed a first deal",
        "type": "MILESTONE",
        "category": "demo",
        "icon": "🤝",
        "rarity": "common",
        "points": 10,
        "requirements": [{"metric": "sales", "operator": "gte", "threshold": 1}],
        "rewards": [{"type": "XP", "value": 50}],
    },
    {
        "key": "demo-closer",
        "name": "Closer",
        "description": "Closed 5 deals",
        "type": "PROGRESSION",
        "category": "demo",
        "icon": "🎯",
        "rarity": "rare",
        "points": 50,
        "requirements": [{"metric": "sales", "operator": "gte", "threshold": 5}],
        "rewards": [{"type": "XP", "value": 150}],
    },
    {
        "key": "demo-big-hour",
        "name": "Power Hour",
        "description": "$10,000 of revenue within an hour",
        "type": "CHALLENGE",
        "category": "demo",
        "icon": "💸",
        "rarity": "epic",
        "points": 100,
        "requirements": [
            {
                "metric": "revenue",
                "operator": "gte",
                "threshold": 10_000,
                "timeframe": {"duration": 1, "unit": "hours"},
            }
        ],
        "rewards": [{"type": "XP", "value": 250}],
    },
    {
        "key": "demo-dialer",
        "name": "Dialer",
        "description": "Made 25 calls",
        "type": "PROGRESSION",
        "category": "demo",
        "icon": "📞",
        "rarity": "uncommon",
        "points": 25,
        "requirements": [{"metric": "demo.calls", "operator": "gte", "threshold": 25}],
        "rewards": [{"type": "XP", "value": 100}],
    },
    {
        "key": "demo-scholar",
        "name": "Scholar",
        "description": "Completed 3 training quizzes",
        "type": "SKILL",
        "category": "demo",
        "icon": "📚",
        "rarity": "uncommon",
        "points": 25,
        "requirements": [{"metric": "quiz.completed", "operator": "gte", "threshold": 3}],
        "rewards": [{"type": "XP", "value": 100}],
    },
    {
        "key": "demo-night-owl",
        "name": "Night Owl",
        "description": "Took 3 calls after hours",
        "type": "SECRET",
        "category": "demo",
        "icon": "🦉",
        "rarity": "legendary",
        "points": 75,
        "secret": True,
        "requirements": [{"metric": "demo.late_calls", "operator": "gte", "threshold": 3}],
        "rewards": [],
    },
)


def move(
    user_id: str,
    user_name: str,
    type: str,
    value: float | None = None,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> EventCommand:
    """One thing a demo user did, as the event the engine takes."""
    return EventCommand(user_id, type, value, user_name=user_name, data=data, **fields)


def streak_backfill(today: datetime) -> list[EventCommand]:
    """Past daily logins, up to yesterday, so that the team starts with streaks of different
    lengths (some cross 7 days, which the TV celebrates). Idempotency keys make a restart on
    the same day change nothing."""
    moves: list[EventCommand] = []
    for user_id, name, days in TEAM:
        for back in range(days, 0, -1):
            day = (today - timedelta(days=back)).date()
            moves.append(
                move(
                    user_id,
                    name,
                    "login",
                    occurred_at=datetime.combine(day, time(9, 0), tzinfo=UTC),
                    idempotency_key=f"demo-login-{user_id}-{day.isoformat()}",
                )
            )
    return moves


def next_move(rng: random.Random, now: datetime) -> EventCommand:
    """A random, plausible thing for a random team member to do now."""
    user_id, name, _ = rng.choice(TEAM)
    roll = rng.random()
    if roll < 0.40:
        amount = rng.randrange(500, 6_000, 50)
        return move(user_id, name, "sale", float(amount), {"signups": rng.randint(0, 3)})
    if roll < 0.60:
        return move(user_id, name, "xp", float(rng.randrange(20, 160, 10)))
    if roll < 0.75:
        score = rng.randint(5, 10)
        quiz = f"demo-quiz-{rng.randint(1, 5)}"
        return move(
            user_id, name, "quiz.completed", data={"quizId": quiz, "score": score, "maxScore": 10}
        )
    if roll < 0.93:
        return move(user_id, name, "demo.calls", float(rng.randint(1, 4)))
    if roll < 0.97:
        return move(user_id, name, "demo.late_calls", 1.0)
    day = now.date().isoformat()
    return move(user_id, name, "login", idempotency_key=f"demo-login-{user_id}-{day}")


class DemoContests:
    """One revenue contest at a time: created, entered by the whole team and LIVE at once; the
    scheduler ends it at its end time, then it is paid out (the TV celebrates the podium) and,
    after a break, the next one starts. A restart adopts the demo contest still running."""

    def __init__(self, contests: ContestService, *, length_s: float, break_s: float) -> None:
        self.contests = contests
        self.length_s = length_s
        self.break_s = break_s
        self.current: int | None = None
        self.end_at: datetime | None = None
        self.next_start_at: datetime | None = None
        self.adopted = False

    async def step(self, now: datetime) -> None:
        if not self.adopted:
            await self._adopt()
        if self.current is None:
            if self.next_start_at is None or now >= self.next_start_at:
                await self._open(now)
            return
        view = await self.contests.get(self.current)
        ended = view.status == ContestStatus.ENDED.value
        overdue = self.end_at is not None and now >= self.end_at + timedelta(seconds=5)
        if ended or overdue:  # overdue: the scheduler is late; payout ends it itself
            await self._pay(self.current)
            self.current = None
            self.next_start_at = now + timedelta(seconds=self.break_s)

    async def _adopt(self) -> None:
        """Pick up the demo contests a previous run left: pay out ended ones, keep a live one."""
        self.adopted = True
        for view in await self.contests.listing(None, 50):
            if not view.name.startswith(CONTEST_PREFIX):
                continue
            if view.status == ContestStatus.ENDED.value and view.paid_out_at is None:
                await self._pay(view.id)
            elif view.status == ContestStatus.LIVE.value and self.current is None:
                self.current, self.end_at = view.id, view.end_at

    async def _open(self, now: datetime) -> None:
        number = 1 + sum(
            1 for v in await self.contests.listing(None, 1000) if v.name.startswith(CONTEST_PREFIX)
        )
        end_at = now + timedelta(seconds=self.length_s)
        view = await self.contests.create(
            name=f"{CONTEST_PREFIX}{number}",
            metric="revenue",
            description="Most revenue until the clock runs out",
            start_at=now,
            end_at=end_at,
            prizes=CONTEST_PRIZES,
        )
        for user_id, name, _ in TEAM:
            await self.contests.enter(view.id, user_id, name)
        with contextlib.suppress(Conflict):  # the scheduler may have started it already
            await self.contests.update(
                view.id, ContestChanges(given=frozenset({"status"}), status=ContestStatus.LIVE)
            )
        self.current, self.end_at = view.id, end_at

    async def _pay(self, contest_id: int) -> None:
        with contextlib.suppress(Conflict):  # paid out already (another node, a restart)
            await self.contests.payout(contest_id, None)


class DemoTeam:
    """The background task. `start()` returns at once; `stop()` cancels and waits."""

    def __init__(
        self,
        ingest: Ingest,
        achievements: AchievementService,
        *,
        interval_s: float,
        contests: ContestService | None = None,
        seed: int | None = None,
    ) -> None:
        self.ingest = ingest
        self.achievements = achievements
        self.interval_s = interval_s
        self.contests = (
            DemoContests(
                contests,
                length_s=CONTEST_LENGTH_MOVES * interval_s,
                break_s=CONTEST_BREAK_MOVES * interval_s,
            )
            if contests is not None
            else None
        )
        self.rng = random.Random(seed)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="accolade-demo")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def define_achievements(self) -> int:
        """Create the demo achievements that do not exist yet (by key); returns how many."""
        existing = {a.key for a in await self.achievements.list_all()}
        created = 0
        for fields in ACHIEVEMENTS:
            if fields["key"] in existing:
                continue
            try:
                await self.achievements.create(copy.deepcopy(fields))
            except IntegrityError:
                continue  # another node defined it first
            created += 1
        return created

    async def _run(self) -> None:
        try:
            created = await self.define_achievements()
            log.info("demo: %d achievements defined, team of %d", created, len(TEAM))
            for event in streak_backfill(datetime.now(UTC)):
                await self.ingest(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("demo: set-up failed; the team plays on without it")
        while True:
            await asyncio.sleep(self.interval_s)
            now = datetime.now(UTC)
            try:
                await self.ingest(next_move(self.rng, now))
                if self.contests is not None:
                    await self.contests.step(now)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A demo must not stop on one bad move (a busy database, a rule being edited).
                log.exception("demo: a move failed")
