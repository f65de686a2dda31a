"""Seed 004's achievements store under `/api/users/achievements`: definitions and progress."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from accolade.api.deps import CurrentPrincipal, Privileged, Reader, ServicesDep, secret_viewer
from accolade.api.openapi import errors
from accolade.api.routing import SegmentRoute
from accolade.api.schemas import (
    INT32_MAX,
    DefinitionIn,
    DefinitionOut,
    DefinitionPatch,
    ProgressIn,
    ProgressOut,
    UnlockIn,
    user_id_query,
)
from accolade.services.achievements import UNSET, Progress

# Segment by segment like the other /api/users routes: `/api/users/achievements%2Fdefinitions/...`
# names a user, never a definition.
router = APIRouter(
    prefix="/api/users/achievements", tags=["achievements (seed 004)"], route_class=SegmentRoute
)

DefinitionId = Annotated[int, Path(ge=1, le=INT32_MAX, description="The achievement's id.")]
UserIdQuery = Annotated[str, user_id_query()]
AchievementIdQuery = Annotated[int, Query(alias="achievementId", ge=1, le=INT32_MAX)]


def _progress_out(progress: Progress) -> ProgressOut:
    return ProgressOut.model_validate(asdict(progress))


# --- definitions -----------------------------------------------------------------------------


@router.post(
    "/definitions",
    status_code=status.HTTP_201_CREATED,
    response_model=DefinitionOut,
    summary="Create an achievement",
)
async def create_definition(
    body: DefinitionIn, services: ServicesDep, _: Privileged
) -> DefinitionOut:
    achievement = await services.achievements.create(
        {"name": body.name, "description": body.description}
    )
    return DefinitionOut.model_validate(achievement)


@router.get(
    "/definitions", response_model=list[DefinitionOut], summary="All achievements, ordered by name"
)
async def list_definitions(services: ServicesDep, principal: Reader) -> list[DefinitionOut]:
    rows = await services.achievements.list_all(hide_secret_from=secret_viewer(principal))
    return [DefinitionOut.model_validate(row) for row in rows]


@router.get(
    "/definitions/{achievement_id}", response_model=DefinitionOut, summary="One achievement"
)
async def get_definition(
    achievement_id: DefinitionId, services: ServicesDep, principal: Reader
) -> DefinitionOut:
    achievement = await services.achievements.get(
        achievement_id, hide_secret_from=secret_viewer(principal)
    )
    return DefinitionOut.model_validate(achievement)


@router.put(
    "/definitions/{achievement_id}",
    response_model=DefinitionOut,
    summary="Update an achievement's name and/or description",
)
async def update_definition(
    achievement_id: DefinitionId, body: DefinitionPatch, services: ServicesDep, _: Privileged
) -> DefinitionOut:
    fields = body.model_dump(include=body.model_fields_set, exclude_none=False)
    if fields.get("name", "") is None:
        fields.pop("name")  # a name cannot be cleared
    achievement = await services.achievements.update(achievement_id, fields)
    return DefinitionOut.model_validate(achievement)


@router.delete(
    "/definitions/{achievement_id}",
    response_model=DefinitionOut,
    summary="Delete an achievement (and every user's progress on it); returns the deleted object",
)
async def delete_definition(
    achievement_id: DefinitionId, services: ServicesDep, _: Privileged
) -> DefinitionOut:
    return DefinitionOut.model_validate(await services.achievements.delete(achievement_id))


# --- progress --------------------------------------------------------------------------------


@router.post(
    "/progress",
    response_model=ProgressOut,
    responses=errors(404),
    summary="Create or update a user's progress row (metadata, when given, replaces the old)",
)
async def upsert_progress(body: ProgressIn, services: ServicesDep, _: Privileged) -> ProgressOut:
    metadata = body.metadata if "metadata" in body.model_fields_set else UNSET
    progress = await services.achievements.upsert_progress(
        body.user_id, body.achievement_id, metadata
    )
    return _progress_out(progress)


@router.get(
    "/progress",
    response_model=ProgressOut | None,
    responses=errors(404),
    summary="A user's progress on one achievement, or null",
)
async def get_progress(
    user_id: UserIdQuery,
    achievement_id: AchievementIdQuery,
    services: ServicesDep,
    principal: CurrentPrincipal,
) -> ProgressOut | None:
    principal.require_user(user_id)
    progress = await services.achievements.get_progress(user_id, achievement_id)
    return None if progress is None else _progress_out(progress)


@router.get(
    "/progress/list",
    response_model=list[ProgressOut],
    summary="A user's progress rows, most recently unlocked first",
)
async def list_progress(
    user_id: UserIdQuery,
    services: ServicesDep,
    principal: CurrentPrincipal,
    unlocked_only: Annotated[bool, Query(alias="unlockedOnly")] = False,
) -> list[ProgressOut]:
    principal.require_user(user_id)
    rows = await services.achievements.list_progress(user_id, unlocked_only=unlocked_only)
    return [_progress_out(row) for row in rows]


@router.put(
    "/progress/unlock",
    response_model=ProgressOut,
    responses=errors(404),
    summary="Mark an achievement unlocked for a user (again: keeps the first unlock time)",
)
async def unlock(body: UnlockIn, services: ServicesDep, _: Privileged) -> ProgressOut:
    return _progress_out(await services.achievements.unlock(body.user_id, body.achievement_id))


@router.delete(
    "/progress",
    response_model=ProgressOut,
    responses=errors(404),
    summary="Remove a progress row; returns it",
)
async def delete_progress(
    user_id: UserIdQuery,
    achievement_id: AchievementIdQuery,
    services: ServicesDep,
    _: Privileged,
) -> ProgressOut:
    return _progress_out(await services.achievements.delete_progress(user_id, achievement_id))
