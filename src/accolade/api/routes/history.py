"""`/api/rooms/{room}/events`: a room's recent events, for screens that reload their state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from accolade.api.deps import CurrentPrincipal, ServicesDep
from accolade.api.openapi import returns
from accolade.api.schemas import Schema
from accolade.domain import rooms
from accolade.domain.errors import Forbidden
from accolade.domain.identity import Role

router = APIRouter(prefix="/api/rooms", tags=["real time"])


class RoomEventOut(Schema):
    id: int = Field(description="Rises with every event of the room; join again with `since`.")
    type: str = Field(description="The event's name, e.g. `achievement:celebration`.")
    data: Any
    timestamp: datetime


class RoomEventsOut(Schema):
    room: str
    recovered: bool = Field(
        description="false: the gap after `since` is older than what is kept; reload over REST."
    )
    events: list[RoomEventOut]


@router.get(
    "/{room}/events",
    summary="A room's events after `since` (oldest first), or its newest `limit` events",
    response_model=None,
    responses=returns(RoomEventsOut),
)
async def room_events(
    room: Annotated[str, Path(min_length=1, max_length=300, pattern=r"^[^\x00]+$")],
    services: ServicesDep,
    principal: CurrentPrincipal,
    since: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    if not room.startswith(rooms.PUBLIC_PREFIXES) and not principal.is_privileged:
        owner = room.removeprefix(rooms.USER_PREFIX) if rooms.is_user_room(room) else None
        if owner is None or principal.role is not Role.USER or principal.subject != owner:
            raise Forbidden("this token may read only public rooms and its own user room")
    # A private contest's room is for its invitees and entrants, here as on the sockets.
    contest_id = (
        room.removeprefix(rooms.CONTEST_PREFIX) if room.startswith(rooms.CONTEST_PREFIX) else ""
    )
    numeric = contest_id.isascii() and contest_id.isdigit()
    if numeric and not await services.contests.may_join_room(principal, int(contest_id)):
        raise Forbidden(f"contest {contest_id} is private: invitees only")
    if since is None:
        messages = await services.history.recent(room, limit)
        recovered = True
    else:
        catch_up = await services.history.since(room, since)
        messages, recovered = catch_up.messages[:limit], catch_up.recovered
    return {
        "room": room,
        "recovered": recovered,
        "events": [
            {"id": m.seq, "type": m.event, "data": m.data(), "timestamp": m.timestamp}
            for m in messages
        ],
    }
