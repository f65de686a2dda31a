"""`/api/notifications`: what each user was told (every celebration becomes one), read or unread.

A user token reaches only its own notifications; another user's is 404 to it, as on the socket's
`notification:read`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import Field

from accolade.api.deps import Reader, ServicesDep, acting_user
from accolade.api.schemas import OWN_USER_OR_NAMED, Schema, UserIdIn, user_id_query
from accolade.services.notifications import NotificationView

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

NotificationId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The notification's id.")]
UserIdQuery = Annotated[
    str | None,
    user_id_query(f"Whose notifications: {OWN_USER_OR_NAMED}"),
]


class NotificationOut(Schema):
    id: int
    user_id: int | str
    type: str
    title: str
    body: str
    data: Any
    read_at: datetime | None
    created_at: datetime


class ReadAllIn(Schema):
    user_id: UserIdIn | None = Field(
        None, description="Whose: required with an admin or service token (422 otherwise)."
    )


class ReadAllOut(Schema):
    user_id: int | str
    marked: int


def _out(view: NotificationView) -> NotificationOut:
    return NotificationOut.model_validate(view)


@router.get(
    "", response_model=list[NotificationOut], summary="A user's notifications, newest first"
)
async def list_notifications(
    services: ServicesDep,
    principal: Reader,
    user_id: UserIdQuery = None,
    unread_only: Annotated[bool, Query(alias="unreadOnly")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NotificationOut]:
    who = acting_user(principal, user_id)
    views = await services.notifications.list_for(who, unread_only=unread_only, limit=limit)
    return [_out(view) for view in views]


@router.post(
    "/read-all",
    response_model=ReadAllOut,
    summary="Mark all of a user's notifications read; `marked` counts those that were unread",
)
async def read_all_notifications(
    services: ServicesDep,
    principal: Reader,
    body: Annotated[ReadAllIn | None, Body()] = None,
) -> ReadAllOut:
    who = acting_user(principal, body.user_id if body is not None else None)
    marked = await services.notifications.mark_all_read(who)
    return ReadAllOut(user_id=who, marked=marked)


@router.post(
    "/{notification_id}/read",
    response_model=NotificationOut,
    summary="Mark one notification read (again: keeps the first read time)",
)
async def read_notification(
    notification_id: NotificationId, services: ServicesDep, principal: Reader
) -> NotificationOut:
    return _out(await services.notifications.mark_read(notification_id, principal))
