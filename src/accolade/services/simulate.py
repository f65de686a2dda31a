"""Asking "what if" before a launch: who a proposed achievement would go to, from stored history.

The proposed rule is replayed over every stored, unreversed event with the engine's own
evaluation (pipeline/replay.py; one implementation of a rule), in bounded memory, and nothing is
written. The answer:

- `qualifying`: users who meet the rule now (timeframe windows ending now): whom creating the
  achievement unlocks straight away.
- `active_users` and `rarity_percent`: rarity's denominator (users with an event) and the share
  `qualifying` would be of it.
- `first_unlocks`: the first ten users whose history met the rule, and when (earliest first).
- `per_day`: how many users first met the rule on each UTC day: what the TV would have shown.
  A user who met a timeframed rule once but not now counts here, not in `qualifying`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from accolade.domain.identity import UserId
from accolade.pipeline import rules as rules_module
from accolade.pipeline.replay import event_types_for, replay
from accolade.storage import rarity
from accolade.storage.database import Database
from accolade.storage.models import Achievement, User, utcnow

FIRST_UNLOCKS_MAX = 10
# The id the proposed rule carries in the replay: no stored achievement has it.
PROPOSED_ID = 0


@dataclass(frozen=True, slots=True)
class FirstUnlock:
    user_id: UserId
    user_name: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class DayUnlocks:
    day: date
    unlocks: int


@dataclass(frozen=True, slots=True)
class Simulation:
    qualifying: int = 0
    active_users: int = 0
    rarity_percent: float = 0.0
    first_unlocks: list[FirstUnlock] = field(default_factory=list)
    per_day: list[DayUnlocks] = field(default_factory=list)
    events: int = 0
    elapsed_s: float = 0.0


class SimulateService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def simulate(self, fields: dict[str, Any]) -> Simulation:
        """The proposed achievement's `fields` (model attribute names, as `create` takes them)
        replayed over stored history; writes nothing."""
        # Column defaults apply on insert only: the ones the rule reads, given here.
        defaults = {"requirements": [], "rewards": [], "rarity": "common", "points": 0}
        proposed = Achievement(**{**defaults, **fields, "id": PROPOSED_ID})
        rule = rules_module.rule_of(proposed)
        now = utcnow()
        async with self.database.transaction() as session:
            active = await rarity.active_users(session)
        if not rule.requirements:
            return Simulation(active_users=active)  # awarded by hand only: nobody by history
        result = await replay(
            self.database,
            [rule],
            keep_users=False,
            holding_at=now,
            event_types=event_types_for([rule]),  # only the events that can move the rule
        )
        qualifying = len(result.holding.get(PROPOSED_ID, []))
        first_held = result.first_held.get(PROPOSED_ID, [])
        per_day = Counter(at.date() for _, at in first_held)  # `occurred_at` is UTC
        first = first_held[:FIRST_UNLOCKS_MAX]
        async with self.database.transaction() as session:
            people = {
                user.id: user
                for user in (
                    await session.scalars(select(User).where(User.id.in_([u for u, _ in first])))
                ).all()
            }
        return Simulation(
            qualifying=qualifying,
            active_users=active,
            rarity_percent=rarity.percent(qualifying, active),
            first_unlocks=[
                FirstUnlock(people[user_id].external_id, people[user_id].user_name, at)
                for user_id, at in first
                if user_id in people  # deleted since the replay read its events
            ],
            per_day=[DayUnlocks(day, n) for day, n in sorted(per_day.items())],
            events=result.events,
            elapsed_s=result.elapsed_s,
        )
