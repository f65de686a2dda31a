"""What travels through the pipeline: the command, its answer, the moves listeners hear, and the
two seams other features plug into (metric listeners and event reactions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.events import Meaning
from accolade.domain.identity import UserId
from accolade.storage.models import User

if TYPE_CHECKING:
    from accolade.pipeline.apply import UserState


@dataclass(frozen=True, slots=True)
class EventCommand:
    user_id: UserId
    type: str
    value: float | None = None
    user_name: str | None = None
    occurred_at: datetime | None = None
    idempotency_key: str | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class EventResult:
    body: dict[str, Any]
    replayed: bool


@dataclass(frozen=True, slots=True)
class MetricMove:
    """How much each metric of `user` moved with one event.

    A reversal (`pipeline.reverse`) moves the event's metrics back, negated, at the event's own
    `occurred_at` (the same boards and buckets), and says what a plain move cannot know:
    `contests`, the contests the event counted in (from its stored answer; None for a plain
    move: the contests counting now), and `vacates`, the (metric, period) boards where no other
    event of the user remains, whose row goes once it is back at 0 (as if never sent)."""

    user: User
    deltas: dict[str, float]
    occurred_at: datetime
    contests: frozenset[int] | None = None
    vacates: frozenset[tuple[str, str]] = frozenset()


class MetricListener(Protocol):
    """Told, inside the event's transaction and under the user's stats lock, how much each
    metric of a user moved (XP gained included, as `xp`), once every event of the transaction
    is applied, in event order. Leaderboards and contests listen here;
    what they return (rank changes, contest standings) is added to the event's `ranks`. Within a
    batch, `user_metrics` rows are written at the end: a listener keeps its own rows, from the
    deltas it is told, and never reads the users' totals from the database."""

    async def metrics_moved(
        self,
        session: AsyncSession,
        user: User,
        deltas: dict[str, float],
        occurred_at: datetime,
    ) -> list[dict[str, Any]]: ...


@runtime_checkable
class BatchMetricListener(Protocol):
    """A listener that takes a whole transaction's moves at once (set-wise, in a few statements)
    instead of one call per event; returns each move's `ranks`, in order."""

    async def metrics_moved_many(
        self, session: AsyncSession, moves: list[MetricMove]
    ) -> list[list[dict[str, Any]]]: ...


@dataclass(slots=True)
class Applied:
    """One event as a reaction sees it: already applied (metrics, XP, streak), before its rules
    are evaluated. A reaction may add room events, and unlocks and celebrations to `body`."""

    command: EventCommand
    meaning: Meaning
    user: User
    state: UserState
    body: dict[str, Any]
    received_at: datetime


class Reaction(Protocol):
    """A feature's own response to events of some types (a quiz's result, a solved problem),
    registered with the engine in `app.py` instead of written into it."""

    types: frozenset[str]

    async def react(self, session: AsyncSession, event: Applied) -> None: ...
