"""`/api/training`: seed 000/001's training flows on top of the engine."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from accolade.api.deps import Privileged, ServicesDep
from accolade.api.openapi import errors, returns
from accolade.api.schemas import (
    JSON_SAFE_INT,
    Bool,
    EffectsOut,
    Schema,
    ShortText,
    UserIdIn,
    finite,
    json_integer,
)
from accolade.pipeline.commands import EventCommand

router = APIRouter(prefix="/api/training", tags=["training"])

Chunk = Annotated[str, StringConstraints(max_length=20_000, pattern=r"^[^\x00]*$")]


class AwardXpIn(Schema):
    user_id: UserIdIn
    xp_amount: Annotated[int, Field(ge=1, le=1_000_000), BeforeValidator(json_integer)]
    action: ShortText = "manual"


class CheckStreakIn(Schema):
    user_id: UserIdIn


class QuizCompleteIn(Schema):
    user_id: UserIdIn
    quiz_id: (
        Annotated[int, Field(ge=-JSON_SAFE_INT, le=JSON_SAFE_INT), BeforeValidator(json_integer)]
        | ShortText
    )
    score: Annotated[float, Field(ge=0, strict=True), AfterValidator(finite)]
    max_score: Annotated[float, Field(gt=0, strict=True), AfterValidator(finite)] = Field(
        description="More than 0; `score` of `maxScore` (a score at or above it is perfect)."
    )


class AwardXpOut(Schema):
    success: bool
    xp_awarded: int
    total_xp: int = Field(alias="totalXP")
    level: int
    previous_level: int
    leveled_up: bool
    tier: str
    effects: EffectsOut


class StreakCheckOut(Schema):
    success: bool
    current_streak: int
    best_streak: int
    last_active_day: str | None
    effects: EffectsOut


class QuizOut(Schema):
    success: bool
    xp_awarded: int
    perfect: bool
    effects: EffectsOut


class RoleplayOut(Schema):
    success: bool
    session_id: str
    events_queued: int


class RoleplayIn(Schema):
    user_id: UserIdIn
    typing: Bool = Field(True, description="Send `roleplay:typing` first")
    chunks: list[Chunk] = Field(default_factory=list, max_length=1000)
    response: Chunk | None = Field(None, description="The final message (`roleplay:response`)")


@router.post(
    "/gamification/award-xp",
    summary="Award XP for an action (level-ups celebrate)",
    response_model=None,
    responses={**returns(AwardXpOut), **errors(429)},
)
async def award_xp(body: AwardXpIn, services: ServicesDep, caller: Privileged) -> dict[str, Any]:
    command = EventCommand(body.user_id, "xp", body.xp_amount, data={"action": body.action})
    await services.anti_cheat.check(command, caller)
    result = (await services.engine.ingest(command)).body
    xp = result["xp"]
    return {
        "success": True,
        "xpAwarded": body.xp_amount,
        "totalXP": xp["total"],
        "level": xp["level"],
        "previousLevel": xp["previousLevel"],
        "leveledUp": xp["level"] > xp["previousLevel"],
        "tier": xp["tier"],
        "effects": result,
    }


@router.post(
    "/gamification/check-streak",
    summary="Record today's activity and answer the streak (a milestone each 7 days)",
    response_model=None,
    responses=returns(StreakCheckOut),
)
async def check_streak(body: CheckStreakIn, services: ServicesDep, _: Privileged) -> dict[str, Any]:
    result = (await services.engine.ingest(EventCommand(body.user_id, "activity"))).body
    streak = result["streak"]
    return {
        "success": True,
        "currentStreak": streak["current"],
        "bestStreak": streak["best"],
        "lastActiveDay": streak["lastActiveDay"],
        "effects": result,
    }


@router.post(
    "/quiz-complete",
    summary="A finished quiz: XP by score; a perfect score earns a badge",
    response_model=None,
    responses=returns(QuizOut),
)
async def quiz_complete(
    body: QuizCompleteIn, services: ServicesDep, _: Privileged
) -> dict[str, Any]:
    command = EventCommand(
        body.user_id,
        "quiz.completed",
        data={"quizId": body.quiz_id, "score": body.score, "maxScore": body.max_score},
    )
    result = (await services.engine.ingest(command)).body
    return {
        "success": True,
        "xpAwarded": (result["xp"] or {}).get("gained", 0),
        "perfect": body.score >= body.max_score,
        "effects": result,
    }


@router.post(
    "/roleplay/{session_id}/messages",
    summary="Relay typing, chunks and the final response to the user's screens, in order",
    response_model=None,
    responses=returns(RoleplayOut),
)
async def roleplay_message(
    session_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00]+$")],
    body: RoleplayIn,
    services: ServicesDep,
    _: Privileged,
) -> dict[str, Any]:
    sent = await services.training.relay_roleplay(
        body.user_id, session_id, typing=body.typing, chunks=body.chunks, response=body.response
    )
    return {"success": True, "sessionId": session_id, "eventsQueued": sent}
