"""`/api/sales-reps/{userId}/sales`: seed 000/001's sales: revenue and signups for a rep."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from accolade.api.deps import Privileged, ServicesDep
from accolade.api.openapi import REPLAYED, errors, returns
from accolade.api.routing import SegmentRoute
from accolade.api.schemas import EffectsOut, Name, Schema, finite, json_integer
from accolade.services.sales import sale

router = APIRouter(prefix="/api/sales-reps", tags=["sales"], route_class=SegmentRoute)

RepPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00]+$",
        description="The rep's user id (digits name an integer id).",
    ),
]
_INT_ID = re.compile(r"^-?[1-9][0-9]{0,17}$|^0$")
MAX_AMOUNT = 1e12


class SaleIn(Schema):
    amount: Annotated[float, Field(ge=0, le=MAX_AMOUNT, strict=True), AfterValidator(finite)] = (
        Field(description="Revenue of this sale.")
    )
    signups: Annotated[int, Field(ge=0, le=1_000_000), BeforeValidator(json_integer)] = 0
    user_name: Name | None = None
    idempotency_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]
        | None
    ) = Field(None, description="A repeated key answers the first result and changes nothing.")


@router.post(
    "/{user_id}/sales",
    status_code=status.HTTP_201_CREATED,
    summary="Record a sale: revenue and signups for the month and all time",
    description=(
        "An event of type `sale` (see `POST /api/events`): the answer is the event's. The highest "
        "monthly revenue or signup threshold crossed ($10K ... $1M; 10 ... 1000) is celebrated; "
        "the rep's place on this month's `revenue` board goes out as `rankings:update` (to "
        "`user:{id}` and `tv-display`) and is listed in `ranks`, celebrated when the new place "
        "is in the top 10 or at least 5 places better; `leaderboard:refresh` reaches "
        "`tv-display` at most once a second per metric."
    ),
    response_model=None,
    responses={
        **returns(EffectsOut, 201, "Stored; the sale event's effects"),
        **returns(EffectsOut, 200, "A repeated `idempotencyKey`: the first answer", REPLAYED),
        **errors(429),
    },
)
async def record_sale(
    user_id: RepPath, body: SaleIn, services: ServicesDep, caller: Privileged, response: Response
) -> dict[str, Any]:
    rep: int | str = int(user_id) if _INT_ID.match(user_id) else user_id
    command = sale(
        rep,
        body.amount,
        signups=body.signups,
        user_name=body.user_name,
        idempotency_key=body.idempotency_key,
    )
    await services.anti_cheat.check(command, caller)
    result = await services.sales.record(command)
    if result.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return result.body
