"""`/api/teams`: teams, their members, and totals per metric (team boards: `/api/leaderboards`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status
from pydantic import Field

from accolade.api.deps import Privileged, PublicReader, ServicesDep
from accolade.api.openapi import returns
from accolade.api.routing import SegmentRoute
from accolade.api.schemas import Name, Schema, UserIdIn
from accolade.domain.identity import Role
from accolade.domain.periods import Period

router = APIRouter(prefix="/api/teams", tags=["teams"], route_class=SegmentRoute)

_INT_ID = re.compile(r"^-?[1-9][0-9]{0,17}$|^0$")
TeamPath = Annotated[
    str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]+$", description="The team's id.")
]
MemberPath = Annotated[
    str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]+$", description="The user's id.")
]


def _id(text: str) -> int | str:
    """A path id as JSON would carry it: digits name an integer id."""
    return int(text) if _INT_ID.match(text) else text


class TeamIn(Schema):
    team_id: UserIdIn | None = Field(
        None, description="An integer or a string; the server numbers the team when left out."
    )
    name: Name


class MemberIn(Schema):
    user_name: Name | None = None


class TeamOut(Schema):
    team_id: int | str
    name: str
    created_at: datetime


class MembershipOut(Schema):
    team_id: int | str
    user_id: int | str
    user_name: str
    joined_at: datetime


class TeamDetailOut(TeamOut):
    members: list[MembershipOut] | None = Field(
        None, description="With a `user`, `service` or `admin` token only."
    )
    member_count: int
    period: str
    period_key: str
    totals: dict[str, float] = Field(description="Each metric summed over the members.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a team (409: id taken)",
    response_model=None,
    responses=returns(TeamDetailOut, 201),
)
async def create_team(body: TeamIn, services: ServicesDep, _: Privileged) -> dict[str, Any]:
    return await services.teams.create(body.team_id, body.name)


@router.get(
    "", summary="Every team, by name", response_model=None, responses=returns(list[TeamOut])
)
async def list_teams(services: ServicesDep, _: PublicReader) -> list[dict[str, Any]]:
    return await services.teams.list()


@router.get(
    "/{team_id}",
    summary="A team: its name, each metric summed over its members, and (with a token) members",
    description="`totals` sums each metric over the members for the current `period` "
    "(default `all`). The team's leaderboard: `GET /api/leaderboards/{metric}?team={teamId}`. "
    "Public (no token while `ACCOLADE_PUBLIC_DISPLAY` is on, or a `display` token, as the TV "
    "reads it): `teamId`, `name`, `createdAt`, `memberCount`, `period`, `periodKey`, `totals`. "
    "The `members` list (user ids and names) needs a `user`, `service` or `admin` token.",
    response_model=None,
    responses=returns(TeamDetailOut),
)
async def get_team(
    team_id: TeamPath,
    services: ServicesDep,
    reader: PublicReader,
    period: Annotated[Period, Query(description="all, day, week, month or year.")] = "all",
) -> dict[str, Any]:
    # Who belongs to a team names people: not for anonymous screens (issue 18).
    with_members = reader is not None and reader.role is not Role.DISPLAY
    return await services.teams.get(_id(team_id), period, with_members=with_members)


@router.delete(
    "/{team_id}",
    summary="Delete a team (its members' values stay theirs)",
    response_model=None,
    responses=returns(TeamDetailOut),
)
async def delete_team(team_id: TeamPath, services: ServicesDep, _: Privileged) -> dict[str, Any]:
    return await services.teams.delete(_id(team_id))


@router.put(
    "/{team_id}/members/{user_id}",
    status_code=status.HTTP_201_CREATED,
    summary="Add a member (201; 200 when already a member); the user is created on first sight",
    response_model=None,
    responses={
        **returns(MembershipOut, 201, "Added"),
        **returns(MembershipOut, 200, "Already a member"),
    },
)
async def add_member(
    team_id: TeamPath,
    user_id: MemberPath,
    services: ServicesDep,
    _: Privileged,
    response: Response,
    body: Annotated[MemberIn | None, Body()] = None,
) -> dict[str, Any]:
    member, added = await services.teams.add_member(
        _id(team_id), _id(user_id), body.user_name if body else None
    )
    if not added:
        response.status_code = status.HTTP_200_OK
    return member


@router.delete(
    "/{team_id}/members/{user_id}",
    summary="Remove a member; returns the membership",
    response_model=None,
    responses=returns(MembershipOut),
)
async def remove_member(
    team_id: TeamPath, user_id: MemberPath, services: ServicesDep, _: Privileged
) -> dict[str, Any]:
    return await services.teams.remove_member(_id(team_id), _id(user_id))
