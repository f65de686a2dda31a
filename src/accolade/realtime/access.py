"""Who may join which room, and what a well-formed join request is. Shared by both transports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from accolade.domain import rooms
from accolade.domain.errors import Forbidden, InvalidInput, Unauthorized
from accolade.domain.identity import Principal, Role

MAX_ID_CHARS = 255
MAX_SEQ = 2**63 - 1
TV_DISPLAY = rooms.TV_DISPLAY


# May this principal join this team's (contest's) room? The services answer from the database.
TeamCheck = Callable[[Principal, int | str], Awaitable[bool]]
ContestCheck = Callable[[Principal | None, int | str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class RoomMembership:
    """What `admit` asks the database: team rooms are for members, a private contest's room
    for its invitees and entrants."""

    team: TeamCheck
    contest: ContestCheck | None = None


# The transports' name for it (team rooms came first).
TeamMembership = RoomMembership | TeamCheck


@dataclass(frozen=True, slots=True)
class JoinRequest:
    room: str
    since: int | None
    team: int | str | None = None  # a team room: membership is checked by `admit`
    contest: int | str | None = None  # a contest room: private ones are checked by `admit`


def parse_id(value: Any, field: str) -> int | str:
    """An id as a client may send it: a JSON integer or a short non-empty string."""
    if isinstance(value, bool) or value is None:
        raise InvalidInput(f"`{field}` must be an integer or a string")
    if isinstance(value, int):
        if abs(value) > MAX_SEQ:
            raise InvalidInput(f"`{field}` is out of range")
        return value
    if isinstance(value, str):
        if not value or len(value) > MAX_ID_CHARS or "\x00" in value:
            raise InvalidInput(f"`{field}` must be 1 to {MAX_ID_CHARS} characters")
        return value
    raise InvalidInput(f"`{field}` must be an integer or a string")


def parse_since(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise InvalidInput("`since` must be a non-negative integer event id")
    return value


def _field(data: Any, name: str, *aliases: str) -> Any:
    """`join:user` takes the bare id (seed 000) or an object `{userId, since}`."""
    if isinstance(data, dict):
        for key in (name, *aliases):
            if key in data:
                return data[key]
        return None
    return data


def _since(data: Any) -> int | None:
    return parse_since(data.get("since")) if isinstance(data, dict) else None


def public_room_allowed(principal: Principal | None, public_display: bool) -> None:
    if principal is None and not public_display:
        raise Unauthorized("public rooms need a token while ACCOLADE_PUBLIC_DISPLAY is off")


def join_request(
    kind: str, data: Any, principal: Principal | None, public_display: bool
) -> JoinRequest:
    """The room a `join:{kind}` asks for, checked against the caller; raises a DomainError."""
    if kind == TV_DISPLAY:
        public_room_allowed(principal, public_display)
        return JoinRequest(TV_DISPLAY, _since(data))
    if kind == "user":
        user_id = parse_id(_field(data, "userId", "id"), "userId")
        if principal is None:
            raise Unauthorized("joining a user room needs a token")
        if not principal.may_act_for(user_id):
            raise Forbidden("a token may join only its own user room")
        return JoinRequest(rooms.user(user_id), _since(data))
    if kind == "team":
        team_id = parse_id(_field(data, "teamId", "id"), "teamId")
        if principal is None:
            raise Unauthorized("joining a team room needs a token")
        return JoinRequest(rooms.team(team_id), _since(data), team=team_id)
    if kind == "contest":
        contest_id = parse_id(_field(data, "contestId", "id"), "contestId")
        public_room_allowed(principal, public_display)
        return JoinRequest(rooms.contest(contest_id), _since(data), contest=contest_id)
    if kind == "problem":
        problem_id = parse_id(_field(data, "problemId", "id"), "problemId")
        public_room_allowed(principal, public_display)
        return JoinRequest(rooms.problem(problem_id), _since(data))
    raise InvalidInput(f"unknown room kind {kind!r}")


async def admit(
    request: JoinRequest, principal: Principal | None, membership: TeamMembership | None
) -> None:
    """Checks what `join_request` cannot without the database: a team room is for the team's
    members, a private contest's room for its invitees and entrants (and, both, admin and
    service tokens, which see everything). Raises a DomainError."""
    rooms = membership if isinstance(membership, RoomMembership) else None
    if request.contest is not None:
        contest_check = rooms.contest if rooms is not None else None
        if contest_check is not None and not await contest_check(principal, request.contest):
            if principal is None:
                raise Unauthorized("this contest is private: its room needs a token")
            raise Forbidden(f"contest {request.contest} is private: invitees only")
        return
    if request.team is None:
        return
    if principal is None:
        raise Unauthorized("joining a team room needs a token")
    if principal.role in (Role.ADMIN, Role.SERVICE):
        return
    team_check = membership.team if isinstance(membership, RoomMembership) else membership
    if team_check is None or not await team_check(principal, request.team):
        raise Forbidden(f"not a member of team {request.team}")
