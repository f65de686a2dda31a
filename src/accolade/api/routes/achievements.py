"""`/api/achievements`: the same achievements with seed 002's rich fields (rules and rewards)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from accolade.api.deps import Admin, Privileged, Reader, Services, ServicesDep, secret_viewer
from accolade.api.routing import ONE_ACHIEVEMENT
from accolade.api.schemas import (
    INT32_MAX,
    AchievementFields,
    AchievementIn,
    AchievementOut,
    AchievementPatchedOut,
    DayUnlocksOut,
    FirstUnlockOut,
    RecomputeOut,
    SimulationOut,
)
from accolade.domain.achievements import AchievementType
from accolade.services.recompute import Recomputed
from accolade.storage.models import Achievement
from accolade.storage.rarity import Rarity

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


def _out(achievement: Achievement, counts: Rarity) -> AchievementOut:
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
        revocable=achievement.revocable,
        metadata=achievement.meta,
        created_at=achievement.created_at,
        updated_at=achievement.updated_at,
        unlocked_count=counts.unlocked_count,
        rarity_percent=counts.percent,
    )


async def _shown(services: Services, achievements: Sequence[Achievement]) -> list[AchievementOut]:
    """The achievements with their rarity, read from the kept counts in one query."""
    counts = await services.achievements.rarities([a.id for a in achievements])
    return [_out(a, counts[a.id]) for a in achievements]


async def _one(services: Services, achievement: Achievement) -> AchievementOut:
    return (await _shown(services, [achievement]))[0]


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
    return await _one(services, achievement)


def _recompute_out(done: Recomputed) -> RecomputeOut:
    return RecomputeOut(unlocked=done.unlocked, revoked=done.revoked, kept=done.kept)


@router.post(
    "/simulate",
    response_model=SimulationOut,
    summary="What if: who a proposed achievement (a POST body) would go to, from stored "
    "history; writes nothing (admin)",
)
async def simulate_achievement(
    body: AchievementIn, services: ServicesDep, _: Admin
) -> SimulationOut:
    found = await services.simulate.simulate(_model_fields(body, for_create=True))
    return SimulationOut(
        qualifying=found.qualifying,
        active_users=found.active_users,
        rarity_percent=found.rarity_percent,
        first_unlocks=[
            FirstUnlockOut(user_id=first.user_id, user_name=first.user_name, at=first.at)
            for first in found.first_unlocks
        ],
        per_day=[DayUnlocksOut(day=day.day, unlocks=day.unlocks) for day in found.per_day],
    )


@router.post(
    "/{achievement_id}/recompute",
    response_model=RecomputeOut,
    summary="Re-evaluate every user against the achievement's rule from stored history "
    "(quiet unlocks; revokes when `revocable`) (admin)",
)
async def recompute_achievement(
    achievement_id: AchievementId, services: ServicesDep, _: Admin
) -> RecomputeOut:
    return _recompute_out(await services.recompute.recompute(achievement_id))


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
    return await _shown(services, rows)


@router.get(ONE_ACHIEVEMENT, response_model=AchievementOut, summary="One achievement")
async def get_achievement(
    achievement_id: AchievementId, services: ServicesDep, principal: Reader
) -> AchievementOut:
    viewer = secret_viewer(principal)
    return await _one(
        services, await services.achievements.get(achievement_id, hide_secret_from=viewer)
    )


@router.patch(
    ONE_ACHIEVEMENT,
    response_model=AchievementPatchedOut,
    summary="Change some fields of an achievement (fields not sent stay as they are); new "
    "`requirements` re-evaluate every user (the answer's `recompute`)",
)
async def patch_achievement(
    achievement_id: AchievementId, body: AchievementFields, services: ServicesDep, _: Privileged
) -> AchievementPatchedOut:
    fields = _model_fields(body, for_create=False)
    rule_changed = False
    if "requirements" in fields:
        before = await services.achievements.get(achievement_id)
        rule_changed = before.requirements != fields["requirements"]
    achievement = await services.achievements.update(achievement_id, fields)
    recomputed: RecomputeOut | None = None
    if rule_changed and achievement.is_enabled:
        # A fixed rule: unlocks it now grants, and (revocable) unlocks it no longer justifies.
        recomputed = _recompute_out(await services.recompute.recompute(achievement.id))
    elif {"requirements", "is_enabled"} & fields.keys():
        await services.engine.backfill(achievement.id)
    shown = await _one(services, achievement)
    return AchievementPatchedOut(**shown.model_dump(), recompute=recomputed)


@router.delete(
    ONE_ACHIEVEMENT,
    response_model=AchievementOut,
    summary="Delete an achievement (and every user's progress on it); returns it",
)
async def delete_achievement(
    achievement_id: AchievementId, services: ServicesDep, _: Privileged
) -> AchievementOut:
    # Read before: the deletion takes its counts with it.
    counts = await services.achievements.rarities([achievement_id])
    return _out(await services.achievements.delete(achievement_id), counts[achievement_id])
