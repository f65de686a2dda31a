"""`/api/leaderboards/{metric}`: any metric's board by period, for everyone or one team."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from pydantic import StringConstraints, WithJsonSchema

from accolade.api.deps import PublicReader, ServicesDep
from accolade.api.schemas import Schema
from accolade.domain.errors import InvalidInput
from accolade.domain.periods import Period
from accolade.services.leaderboards import MAX_LIMIT

router = APIRouter(prefix="/api/leaderboards", tags=["leaderboards"])

MetricPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00/]+$",
        description="`xp`, `revenue`, `signups`, `sales` or any custom metric (an event type).",
    ),
]

DESCRIPTION = """
Places on one metric's board, best first: the body is a JSON array of
`{rank, userId, userName, value}`.

**Headers**: which board answered. `Leaderboard-Metric` (the metric), `Leaderboard-Period`
(`all`, `day`, `week`, `month` or `year`), `Leaderboard-Period-Key` (`all`, `2026-10-15`,
`2026-W42`, `2026-10` or `2026`) and, on a team's board, `Leaderboard-Team` (the team's id).
Values are percent-encoded UTF-8 where they hold anything but printable ASCII (as in a URL).

**Periods** (`period`): `all` (default), `day`, `week` (ISO week, Monday to Sunday), `month`,
`year`, with calendar boundaries in UTC. An event counts toward the periods its `occurredAt` falls
in, so a backfilled event lands on the board of its own day, week, month and year.

**Archived periods**: by default the current period. Name another with `at` (any date or
instant inside it, e.g. `period=month&at=2026-10-15`) or `periodKey` (`2026-10-15` for a day,
`2026-W42` for a week, `2026-10` for a month, `2026` for a year). Past boards stay readable.

**Ties**: equal values share a value but never a place. Whoever reached the value first ranks
higher (the moment the value was recorded, not the event's `occurredAt`); on the same instant,
the user created first. Ranks are 1, 2, 3, ... without gaps.

**Around me**: `around=<userId>` returns at most `limit` places in all: that user's, centred
(`limit=5`: two above, the user, two below; one more below for an even `limit`), shifted near
the top or the bottom so the answer still holds `limit` places when the board has them; empty
when the user has no value on this board. Without it, the top `limit`.

**Teams**: `team=<teamId>` ranks only that team's members among themselves.

Readable by any token, `display` included, and without a token while `ACCOLADE_PUBLIC_DISPLAY`
is on (the TV display).
"""


class EntryOut(Schema):
    rank: int
    user_id: int | str
    user_name: str
    value: float


# Printable ASCII but `%` goes into a header as is; anything else (control characters,
# non-ASCII) is percent-encoded UTF-8, so no metric, team or name can break a header.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def header_value(value: object) -> str:
    """`value` as a response header's value: printable ASCII, percent-encoded UTF-8 else
    (and spaces at either end, which HTTP would drop)."""
    text = quote(str(value), safe=_HEADER_SAFE)
    core = text.strip(" ")
    if not core:
        return "%20" * len(text)
    lead = len(text) - len(text.lstrip(" "))
    trail = len(text) - len(text.rstrip(" "))
    return "%20" * lead + core + "%20" * trail


# `at` as text, parsed by `_instant`; the schema states which texts it reads.
DateOrInstant = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
        }
    ),
]


def _instant(at: str) -> datetime:
    try:
        if "T" in at or " " in at:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return datetime.combine(date.fromisoformat(at), time(), tzinfo=UTC)
    except ValueError:
        raise InvalidInput(
            "`at` must be a date (2026-10-15) or an ISO 8601 instant",
            details=[{"field": "at", "message": "not a date or instant"}],
        ) from None


@router.get(
    "/{metric}",
    response_model=list[EntryOut],
    summary="A metric's leaderboard: top N or around a user, by period, for all or one team",
    description=DESCRIPTION,
)
async def get_leaderboard(
    metric: MetricPath,
    services: ServicesDep,
    _: PublicReader,
    response: Response,
    period: Annotated[Period, Query(description="all, day, week, month or year.")] = "all",
    team: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Only this team's members.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="How many places, `around` included.")
    ] = 10,
    around: Annotated[
        str | None, Query(min_length=1, max_length=255, description="The places around a user.")
    ] = None,
    at: Annotated[
        DateOrInstant | None,
        Query(
            description="A date (2026-10-15) or an ISO 8601 instant in the wanted period; "
            "without a zone, UTC. Not with `periodKey`.",
        ),
    ] = None,
    period_key: Annotated[
        str | None,
        Query(
            alias="periodKey",
            max_length=10,
            pattern=r"^(all|[0-9]{4}(-W[0-9]{2}|-[0-9]{2}(-[0-9]{2})?)?)$",
            description="The wanted period's key, of the kind `period` names: `2026-10-15` "
            "(day), `2026-W42` (week), `2026-10` (month), `2026` (year). Not with `at`.",
        ),
    ] = None,
) -> list[EntryOut]:
    if at is not None and period_key is not None:
        raise InvalidInput("give `at` or `periodKey`, not both")
    try:
        view = await services.leaderboards.board(
            metric,
            period,
            key=period_key,
            at=_instant(at) if at is not None else None,
            team=team,
            limit=limit,
            around=around,
        )
    except ValueError as exc:
        raise InvalidInput(
            str(exc), details=[{"field": "periodKey", "message": str(exc)}]
        ) from None
    response.headers["Leaderboard-Metric"] = header_value(view.board.metric)
    response.headers["Leaderboard-Period"] = header_value(view.board.period)
    response.headers["Leaderboard-Period-Key"] = header_value(view.board.period_key)
    if view.team is not None:
        response.headers["Leaderboard-Team"] = header_value(view.team)
    return [EntryOut.model_validate(e) for e in view.entries]
