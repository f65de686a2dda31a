"""`/api/events`: the engine's intake."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import Field, StringConstraints

from accolade.api.deps import Privileged, ServicesDep
from accolade.api.openapi import REPLAYED, errors, returns
from accolade.api.schemas import (
    BatchOut,
    EffectsOut,
    FiniteFloat,
    Instant,
    JsonObject,
    MetricName,
    Name,
    ReversalOut,
    ReverseIn,
    Schema,
    UserIdIn,
)
from accolade.pipeline.commands import EventCommand
from accolade.pipeline.reverse import reverse_event

router = APIRouter(prefix="/api/events", tags=["events"])

IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")
]


class EventIn(Schema):
    user_id: UserIdIn
    user_name: Name | None = None
    type: MetricName = Field(
        description="xp, activity, login, sale, quiz.completed, problem.solved, or a custom metric"
    )
    value: FiniteFloat | None = Field(
        None,
        description="A negative value is refused (422) while `ACCOLADE_ANTI_CHEAT` is on (the "
        "default).",
    )
    occurred_at: Instant | None = Field(None, description="Defaults to now; may be past.")
    idempotency_key: IdempotencyKey | None = None
    data: JsonObject | None = None

    def command(self) -> EventCommand:
        return EventCommand(
            user_id=self.user_id,
            type=self.type,
            value=self.value,
            user_name=self.user_name,
            occurred_at=self.occurred_at,
            idempotency_key=self.idempotency_key,
            data=self.data,
        )


class BatchIn(Schema):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Take one event; the answer lists its effects (201, or 200 replaying a repeated key)",
    response_model=None,
    responses={
        **returns(EffectsOut, 201, "Stored; its effects"),
        **returns(EffectsOut, 200, "A repeated `idempotencyKey`: the first answer", REPLAYED),
        **errors(429),
    },
)
async def post_event(body: EventIn, services: ServicesDep, caller: Privileged) -> Response:
    command = body.command()
    await services.anti_cheat.check(command, caller)
    result = await services.engine.ingest(command)
    if result.replayed:
        return _json(result.body, status.HTTP_200_OK, {"Idempotent-Replayed": "true"})
    return _json(result.body, status.HTTP_201_CREATED)


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    summary="Take up to 1,000 events in order, in one transaction: all stored or none",
    response_model=None,
    responses={**returns(BatchOut, 201, "All stored; each one's effects"), **errors(429)},
)
async def post_batch(body: BatchIn, services: ServicesDep, caller: Privileged) -> Response:
    commands = [event.command() for event in body.events]
    for command in commands:
        await services.anti_cheat.check(command, caller)
    results = await services.engine.ingest_batch(commands)
    answer = {
        "results": [result.body for result in results],
        "replayed": sum(result.replayed for result in results),
    }
    return _json(answer, status.HTTP_201_CREATED)


@router.post(
    "/{event_id}/reverse",
    summary="Undo a stored event (a refund): metrics, buckets, XP, streak, boards, contests",
    response_model=ReversalOut,
    responses=errors(404, 409),
)
async def reverse(
    services: ServicesDep,
    caller: Privileged,
    event_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The event's `eventId`.")],
    body: ReverseIn | None = None,
) -> dict[str, Any]:
    """Moves back, in one transaction, everything the event moved: its metric totals and time
    buckets, its XP (the level follows, down too), the streak days it made, every board of
    every period it counted in, and the contests it counted in; place changes go out as
    `rankings:update`. Revocable achievements no longer held are revoked; others are kept. The
    event stays stored, marked `reversedAt`. A second reverse of the same event is 409."""
    reversal = await reverse_event(
        services.engine,
        event_id,
        reason=body.reason if body is not None else None,
        actor=caller.subject,
    )
    return reversal.as_json()


def _json(
    body: dict[str, Any], status_code: int, headers: dict[str, str] | None = None
) -> Response:
    """The answer, encoded once: the engine's answers are plain JSON values already, so FastAPI's
    generic encoding (a walk over every value) is skipped on the intake's hot path."""
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content, status_code, headers, media_type="application/json")
