"""`/api/activity`: the feed, the celebrations history newest first.

Without `userId` it is everyone's feed, which is what the TV display shows: any valid token may
read it, `display` ones included. With `userId` it is one user's, for that user (or admin and
service tokens) only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from accolade.api.deps import CurrentPrincipal, ServicesDep
from accolade.api.openapi import returns
from accolade.api.schemas import Schema, user_id_query

router = APIRouter(prefix="/api/activity", tags=["activity"])


class CelebrationOut(Schema):
    """A celebration as it was sent (seed 001's `AchievementEvent`, with its feed `id`); each
    kind adds its own fields (`badgeName`, `newRank`, ...)."""

    id: int
    user_id: int | str | None
    user_name: str
    achievement_type: str = Field(description="`milestone`, `rank`, `streak` or `contest`")
    title: str
    description: str | None
    icon: str | None
    timestamp: datetime


@router.get(
    "",
    summary="Celebrations, newest first: one user's, or everyone's (the public feed)",
    response_model=None,
    responses=returns(list[CelebrationOut]),
)
async def activity_feed(
    services: ServicesDep,
    principal: CurrentPrincipal,
    user_id: Annotated[str | None, user_id_query("Whose feed; left out: everyone's.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    if user_id is not None:
        principal.require_user(user_id)
    return await services.profiles.activity(user_id, limit=limit)
