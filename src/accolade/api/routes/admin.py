"""`/api/admin`: live connections and broadcasts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BeforeValidator, Field, StringConstraints

from accolade.api.deps import Admin, ServicesDep
from accolade.api.openapi import returns
from accolade.api.schemas import JsonObject, Schema, json_integer
from accolade.services.admin import AdminService

router = APIRouter(prefix="/api/admin", tags=["admin"])

Namespace = Annotated[str, StringConstraints(pattern=r"^/(leaderboard|training|game-events)?$")]
RoomName = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[^\x00]+$")]
EventName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]+$")]


class BroadcastIn(Schema):
    namespace: Namespace = Field(description="`/leaderboard`, `/training`, `/` or `/game-events`")
    room: RoomName
    event: EventName
    data: JsonObject = Field(default_factory=dict)
    repeat: Annotated[int, Field(ge=1, le=10_000), BeforeValidator(json_integer)] = 1


class BroadcastOut(Schema):
    queued: int


class NamespaceConnectionsOut(Schema):
    connections: int
    rooms: dict[str, int] = Field(description="Connections in each room.")


class ConnectionsOut(Schema):
    total: int
    namespaces: dict[str, NamespaceConnectionsOut]
    nodes: dict[str, int] = Field(description="Connections on each node, by node id.")


class FlaggedEventOut(Schema):
    id: int
    user_id: int | str
    type: str
    value: float | None
    reason: str
    applied: bool = Field(description="false: refused; true: applied and flagged.")
    created_at: datetime


@router.get(
    "/connections",
    summary="Live connections of every node, by namespace and room",
    response_model=None,
    responses=returns(ConnectionsOut),
)
async def connections(services: ServicesDep, _: Admin) -> dict[str, Any]:
    return await services.registry.summary()


@router.get(
    "/flagged-events",
    summary="Events anti-cheat refused (`applied: false`) or applied and flagged, newest first",
    response_model=None,
    responses=returns(list[FlaggedEventOut]),
)
async def flagged_events(services: ServicesDep, _: Admin) -> list[dict[str, Any]]:
    return await services.anti_cheat.flagged()


@router.post(
    "/broadcast",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BroadcastOut,
    summary="Send `repeat` copies of an event to a room (each with `seq` and `sentAt` in data)",
)
async def broadcast(body: BroadcastIn, services: ServicesDep, _: Admin) -> BroadcastOut:
    queued = await AdminService(services.database).broadcast(
        body.namespace, body.room, body.event, body.data, body.repeat
    )
    return BroadcastOut(queued=queued)
