"""`/api/admin`: live connections and broadcasts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BeforeValidator, Field, StringConstraints

from accolade.api.deps import Admin, ServicesDep
from accolade.api.openapi import returns
from accolade.api.schemas import AuditEntryOut, JsonObject, Schema, json_integer
from accolade.domain.audit import ACTIONS
from accolade.services import audit
from accolade.services.admin import AdminService
from accolade.services.audit import AuditService

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


_AUDIT_ACTIONS = "\n".join(f"- `{name}`: {what}" for name, what in ACTIONS.items())
AUDIT_DESCRIPTION = f"""Every change made through the API to achievements, quests, contests,
teams, users, rewards (revoke), reversals and broadcasts, newest first: who (`actor`, the token's
subject, and its `role`), when (`at`), `action`, `target` (`achievement:12`) and `details`
(`before` and `after`, as the API shows the thing, where they apply). An entry is written in the
change's own transaction: a refused or rolled-back change has none, a 2xx change always has one.
Ingestion (events, sales, training, quest runs, claims, contest entries, notification reads) is
the ledger itself and is not repeated here.

Filters: `actor` (exact subject), `action` (exact, or a prefix ending in `.`: `achievement.`
gives every achievement action, `team.member.` both membership actions). Paging: `limit`
(1-500, default 50); for older entries pass the last id seen as `before`.

Actions:

{_AUDIT_ACTIONS}
"""


@router.get(
    "/audit",
    response_model=list[AuditEntryOut],
    summary="The audit log: who changed what through the API, and when, newest first",
    description=AUDIT_DESCRIPTION,
)
async def audit_log(
    services: ServicesDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = audit.DEFAULT_LIMIT,
    actor: Annotated[
        str | None,
        Query(min_length=1, max_length=255, pattern=r"^[^\x00]+$", description="A subject."),
    ] = None,
    action: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[^\x00]+$",
            description="Exact, or a prefix ending in `.` (`achievement.`).",
        ),
    ] = None,
    before: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="Only entries older than this id (the next page)."),
    ] = None,
) -> list[AuditEntryOut]:
    entries = await AuditService(services.database).newest(
        limit=limit, actor=actor, action=action, before_id=before
    )
    return [AuditEntryOut.model_validate(entry) for entry in entries]
