"""Sales (seed 000/001): a sale is an engine event of type `sale`, so metrics, idempotency,
achievements and leaderboards all follow; the leaderboards listener then celebrates the highest
monthly threshold crossed and sends the rep's new place on this month's revenue board."""

from __future__ import annotations

from accolade.domain.identity import UserId
from accolade.pipeline.commands import EventCommand, EventResult
from accolade.pipeline.intake import Engine


def sale(
    user_id: UserId,
    amount: float,
    *,
    signups: int = 0,
    user_name: str | None = None,
    idempotency_key: str | None = None,
) -> EventCommand:
    """The `sale` event for a rep's sale of `amount` with `signups` new signups."""
    return EventCommand(
        user_id=user_id,
        type="sale",
        value=amount,
        user_name=user_name,
        idempotency_key=idempotency_key,
        data={"signups": signups} if signups else {},
    )


class SalesService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def record(self, command: EventCommand) -> EventResult:
        """The sale's event answer (`ranks` holds the revenue place change and milestones)."""
        return await self.engine.ingest(command)
