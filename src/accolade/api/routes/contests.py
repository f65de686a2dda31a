"""`/api/contests`: contests on a metric, their entrants and standings, and the one payout
(`/api/leaderboard/contests/{id}/payout`, seed 000's path)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import Field, model_validator
from pydantic.functional_validators import AfterValidator

from accolade.api.deps import Privileged, PublicReader, Reader, ServicesDep, acting_user
from accolade.api.openapi import returns
from accolade.api.routes.leaderboards import header_value
from accolade.api.schemas import (
    INT32_MAX,
    Description,
    Instant,
    MetricName,
    Name,
    Schema,
    ShortText,
    UserIdIn,
)
from accolade.domain.contests import ContestStatus
from accolade.services.contests import ContestChanges, ContestView, EntryView

router = APIRouter(prefix="/api", tags=["contests"])

ContestId = Annotated[int, Path(ge=1, le=INT32_MAX, description="The contest's id.")]


Prizes = Annotated[
    list[Annotated[ShortText, AfterValidator(str.strip)]],
    Field(max_length=100, description='Prizes by place, as written: `["$5000", "$2500"]`.'),
]

STATUS_RULES = """
**Status**: `DRAFT` -> `LIVE` -> `ENDED`, only forward and one step at a time (anything else is
409; asking for the status it has already changes nothing). A contest goes LIVE at `startAt`
and ENDED at `endAt` by itself (when they are set), on time after a restart, and once however
many nodes run. Name, description, prizes and times can change only while it is DRAFT (409
after).

**Scoring**: only entrants count, and only their moves of the contest's `metric` that occurred
inside the window: from `startAt` (or from the moment it went LIVE by hand, when that was
earlier) until `endAt`. A move made before a user entered does not count.
"""


class ContestIn(Schema):
    name: Name
    metric: MetricName = Field(
        description="`xp`, `revenue`, `problem.solved` or any custom metric."
    )
    description: Description = ""
    start_at: Instant | None = Field(None, description="Goes LIVE by itself at this time.")
    end_at: Instant | None = Field(
        None, description="Ends by itself at this time; after `startAt` when both are set (422)."
    )
    prizes: Prizes = Field(default_factory=list)
    visibility: Literal["public", "private"] = Field(
        "public",
        description="`private`: entered by invitation (`POST /api/contests/{id}/invitations`); "
        "its room and its place in `GET /api/contests` are for invitees and entrants (and admin "
        "and service tokens).",
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> ContestIn:
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValueError("endAt must be after startAt")
        return self


class ContestPatch(Schema):
    name: Name | None = None
    description: Description | None = None
    start_at: Instant | None = None
    end_at: Instant | None = Field(
        None, description="After `startAt` (the one sent, or the contest's own), 422 otherwise."
    )
    prizes: Prizes | None = None
    status: ContestStatus | None = Field(None, description="The next status: LIVE, then ENDED.")

    def changes(self) -> ContestChanges:
        given = frozenset(self.model_fields_set)
        # `null` clears a time; the other fields cannot be null.
        for name in ("name", "description", "prizes", "status"):
            if name in given and getattr(self, name) is None:
                given -= {name}
        return ContestChanges(
            given=given,
            name=self.name,
            description=self.description,
            start_at=self.start_at,
            end_at=self.end_at,
            prizes=self.prizes,
            status=self.status,
        )


class ContestOut(Schema):
    id: int
    name: str
    description: str
    metric: str
    status: str
    start_at: datetime | None
    end_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    prizes: list[str]
    entrants: int
    paid_out_at: datetime | None
    payout: list[dict[str, Any]] | None
    created_at: datetime
    updated_at: datetime
    visibility: str


class InvitationsIn(Schema):
    user_ids: list[UserIdIn] = Field(min_length=1, max_length=1000)


class InvitationsOut(Schema):
    contest_id: int
    invited: list[int | str]


class EnterIn(Schema):
    user_id: UserIdIn | None = Field(
        None, description="Who enters: required with an admin or service token."
    )
    user_name: Name | None = None


class EntryOut(Schema):
    contest_id: int
    user_id: int | str
    user_name: str
    value: float
    entered_at: datetime
    already_entered: bool


class StandingOut(Schema):
    rank: int
    user_id: int | str
    user_name: str
    value: float


class PayoutIn(Schema):
    prizes: Prizes | None = Field(None, description="Overrides the contest's own prizes.")


class WinnerOut(Schema):
    placement: int
    user_id: int | str
    user_name: str
    value: float
    prize: str | None
    title: str


class PayoutOut(Schema):
    contest_id: int
    name: str
    status: str
    paid_out_at: datetime
    winners: list[WinnerOut]


def _out(view: ContestView) -> ContestOut:
    return ContestOut.model_validate(view)


@router.post(
    "/contests",
    status_code=status.HTTP_201_CREATED,
    response_model=ContestOut,
    summary="Create a contest (DRAFT) on a metric, optionally scheduled",
    description=STATUS_RULES,
)
async def create_contest(body: ContestIn, services: ServicesDep, _: Privileged) -> ContestOut:
    view = await services.contests.create(
        name=body.name,
        metric=body.metric,
        description=body.description,
        start_at=body.start_at,
        end_at=body.end_at,
        prizes=body.prizes,
        visibility=body.visibility,
    )
    return _out(view)


@router.get(
    "/contests",
    response_model=list[ContestOut],
    summary="Contests, newest first (optionally of one `status`)",
)
async def list_contests(
    services: ServicesDep,
    reader: PublicReader,
    status_filter: Annotated[ContestStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ContestOut]:
    views = await services.contests.listing(status_filter, limit, reader)
    return [_out(view) for view in views]


@router.get("/contests/{contest_id}", response_model=ContestOut, summary="One contest")
async def get_contest(
    contest_id: ContestId, services: ServicesDep, reader: PublicReader
) -> ContestOut:
    return _out(await services.contests.get(contest_id, reader))


@router.post(
    "/contests/{contest_id}/invitations",
    response_model=InvitationsOut,
    summary="Invite users to a private contest (admin or service token; users are made on "
    "first sight; inviting again changes nothing). A public contest is 409",
)
async def invite_to_contest(
    contest_id: ContestId, body: InvitationsIn, services: ServicesDep, _: Privileged
) -> InvitationsOut:
    invited = await services.contests.invite(contest_id, body.user_ids)
    return InvitationsOut(contest_id=contest_id, invited=invited)


@router.patch(
    "/contests/{contest_id}",
    response_model=ContestOut,
    summary="Move the status forward (DRAFT -> LIVE -> ENDED; 409 else) or edit a DRAFT contest",
    description=STATUS_RULES,
)
async def patch_contest(
    contest_id: ContestId, body: ContestPatch, services: ServicesDep, _: Privileged
) -> ContestOut:
    return _out(await services.contests.update(contest_id, body.changes()))


@router.post(
    "/contests/{contest_id}/enter",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryOut,
    responses=returns(EntryOut, 200, "Already entered: the same entry"),
    summary="Enter a contest: `userId` from an admin or service token; a user token enters "
    "itself with no body. 201 the first time; entering again answers 200 with the same entry "
    "and changes nothing. An ENDED contest is 409",
)
async def enter_contest(
    contest_id: ContestId,
    services: ServicesDep,
    principal: Reader,
    response: Response,
    body: EnterIn | None = None,
) -> EntryOut:
    user_id = acting_user(principal, body.user_id if body is not None else None)
    view: EntryView = await services.contests.enter(
        contest_id, user_id, body.user_name if body is not None else None
    )
    if not view.created:
        response.status_code = status.HTTP_200_OK
    return EntryOut(
        contest_id=view.contest_id,
        user_id=view.user_id,
        user_name=view.user_name,
        value=view.value,
        entered_at=view.entered_at,
        already_entered=not view.created,
    )


@router.get(
    "/contests/{contest_id}/leaderboard",
    response_model=list[StandingOut],
    summary="The contest's standings, best first: `{rank, userId, userName, value}`",
    description="The body is a JSON array of `{rank, userId, userName, value}`, best first. "
    "Equal values share a value, never a place: whoever reached the value first ranks higher "
    "(the moment it was recorded); on the same instant, the user known first.\n\n"
    "**Headers**: `Contest-Status` (`DRAFT`, `LIVE` or `ENDED`), `Contest-Metric` and "
    "`Contest-Name`, percent-encoded UTF-8 where they hold anything but printable ASCII (as in "
    "a URL). The rest of the contest is at `GET /api/contests/{id}`.",
)
async def contest_leaderboard(
    contest_id: ContestId,
    services: ServicesDep,
    reader: PublicReader,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[StandingOut]:
    view, entries = await services.contests.leaderboard(contest_id, limit, reader)
    response.headers["Contest-Status"] = header_value(view.status)
    response.headers["Contest-Metric"] = header_value(view.metric)
    response.headers["Contest-Name"] = header_value(view.name)
    return [StandingOut.model_validate(entry) for entry in entries]


@router.post(
    "/leaderboard/contests/{contest_id}/payout",
    response_model=PayoutOut,
    summary="Pay out once (a second payout is 409): the top 3 who scored are celebrated, "
    "`🏆 {name} - 1st Place` (2nd, 3rd). A LIVE contest is ended first; a DRAFT one is 409",
)
async def payout_contest(
    contest_id: ContestId, services: ServicesDep, _: Privileged, body: PayoutIn | None = None
) -> PayoutOut:
    answer = await services.contests.payout(contest_id, body.prizes if body else None)
    return PayoutOut.model_validate(answer)
