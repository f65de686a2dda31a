"""`/api/users`: the host application's users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from accolade.api.deps import CurrentPrincipal, ServicesDep
from accolade.api.openapi import returns
from accolade.api.routing import SegmentRoute
from accolade.api.schemas import UserIn, UserOut
from accolade.storage.models import User

router = APIRouter(prefix="/api/users", tags=["users"], route_class=SegmentRoute)

UserPath = Annotated[
    str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]+$", description="The user's id.")
]


def _out(user: User) -> UserOut:
    return UserOut(
        user_id=user.external_id,
        user_name=user.user_name,
        time_zone=user.time_zone,
        created_at=user.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Create a user (201), or update the name and time zone of an existing one (200)",
    responses=returns(UserOut, 200, "An existing user, updated"),
)
async def create_user(
    body: UserIn, services: ServicesDep, principal: CurrentPrincipal, response: Response
) -> UserOut:
    principal.require_user(body.user_id)
    user, created = await services.users.create(body.user_id, body.user_name, body.time_zone)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _out(user)


@router.get("/{user_id}", response_model=UserOut, summary="One user")
async def get_user(
    user_id: UserPath, services: ServicesDep, principal: CurrentPrincipal
) -> UserOut:
    principal.require_user(user_id)
    return _out(await services.users.get(user_id))


@router.delete(
    "/{user_id}",
    response_model=UserOut,
    summary="Delete a user and everything of theirs; returns the deleted user",
)
async def delete_user(
    user_id: UserPath, services: ServicesDep, principal: CurrentPrincipal
) -> UserOut:
    principal.require_user(user_id)
    return _out(await services.users.delete(user_id))
