"""`/api/achievements`: the same achievements with seed 002's rich fields (rules and rewards)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from accolade.api.deps import Privileged, Reader, ServicesDep, secret_viewer
from accolade.api.schemas import INT32_MAX, AchievementFields, AchievementIn, AchievementOut
from accolade.domain.achievements import AchievementType
from accolade.storage.models import Achievement

router = APIRouter(prefix="/api/achievements", tags=["achievements"])

AchievementId = Annotated[int, Path(ge=1, le=INT32_MAX, description="The achievement's id.")]

# Request field name -> model attribute, where they differ.
_ATTRIBUTE = {"metadata": "meta"}
_NULLABLE = {"key", "description", "category", "icon"}


def _model_fields(body: AchievementFields, *, for_create: bool) -> dict[str, Any]:
    """The fields the client sent, as model attributes, JSON-ready (enums as strings)."""
    sent = set(body.model_fields_set) - {"title"}
    if body.name is not None:
        sent.add("name")
    # Nested rules and rewards are stored as the API shows them (camelCase); top-level fields map
    # to model attributes.
    data = {
        name: body.model_dump(mode="json", include={name}, by_alias=True).popitem()[1]
        for name in sent
    }
    return {
        _ATTRIBUTE.get(name, name): value
        for name, value in data.items()
        # A null for a field that cannot be null means "the default" (create) or "as it is" (PATCH).
        if value is not None or (not for_create and name in _NULLABLE)
    }


def _out(achievement: Achievement) -> AchievementOut:
    return AchievementOut(
        id=achievement.id,
        key=achievement.key,
        name=achievement.name,
        title=achievement.name,
        description=achievement.description,
        type=achievement.type,
        category=achievement.category,
        points=achievement.points,
        icon=achievement.icon,
        rarity=achievement.rarity,
        secret=achievement.secret,
        requirements=achievement.requirements,
        rewards=achievement.rewards,
        is_enabled=achievement.is_enabled,
        metadata=achievement.meta,
        created_at=achievement.created_at,
        updated_at=achievement.updated_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AchievementOut,
    summary="Create an achievement with requirements and rewards",
)
async def create_achievement(
    body: AchievementIn, services: ServicesDep, _: Privileged
) -> AchievementOut:
    achievement = await services.achievements.create(_model_fields(body, for_create=True))
    # Users who already qualify unlock it now (quietly: no flood on the TV display).
    await services.engine.backfill(achievement.id)
    return _out(achievement)


@router.get(
    "",
    response_model=list[AchievementOut],
    summary="Achievements by name; secret ones a user has not unlocked are hidden from that user",
)
async def list_achievements(
    services: ServicesDep,
    principal: Reader,
    type: Annotated[AchievementType | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")] = None,
    enabled: Annotated[bool | None, Query()] = None,
) -> list[AchievementOut]:
    rows = await services.achievements.list_all(
        type_=type.value if type else None,
        category=category,
        enabled=enabled,
        hide_secret_from=secret_viewer(principal),
    )
    return [_out(row) for row in rows]


@router.get("/{achievement_id}", response_model=AchievementOut, summary="One achievement")
async def get_achievement(
    achievement_id: AchievementId, services: ServicesDep, principal: Reader
) -> AchievementOut:
    viewer = secret_viewer(principal)
    return _out(await services.achievements.get(achievement_id, hide_secret_from=viewer))


@router.patch(
    "/{achievement_id}",
    response_model=AchievementOut,
    summary="Change some fields of an achievement (fields not sent stay as they are)",
)
async def patch_achievement(
    achievement_id: AchievementId, body: AchievementFields, services: ServicesDep, _: Privileged
) -> AchievementOut:
    fields = _model_fields(body, for_create=False)
    achievement = await services.achievements.update(achievement_id, fields)
    if {"requirements", "is_enabled"} & fields.keys():
        await services.engine.backfill(achievement.id)
    return _out(achievement)


@router.delete(
    "/{achievement_id}",
    response_model=AchievementOut,
    summary="Delete an achievement (and every user's progress on it); returns it",
)
async def delete_achievement(
    achievement_id: AchievementId, services: ServicesDep, _: Privileged
) -> AchievementOut:
    return _out(await services.achievements.delete(achievement_id))
