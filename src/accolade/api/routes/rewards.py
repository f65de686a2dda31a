"""`/api/rewards`: rewards given to users, claimed by them (once) or revoked by an admin.

A user token lists and claims only its own rewards; another user's reward is 404 to it, as if it
did not exist (ids are sequential, and which ones exist is not another user's business).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from accolade.api.deps import Admin, Reader, ServicesDep, acting_user
from accolade.api.schemas import OWN_USER_OR_NAMED, Schema, user_id_query
from accolade.domain.rewards import RewardStatus
from accolade.services.rewards import RewardView

router = APIRouter(prefix="/api/rewards", tags=["rewards"])

DistributionId = Annotated[
    int, Path(ge=1, le=2**63 - 1, description="The reward distribution's id.")
]
UserIdQuery = Annotated[
    str | None,
    user_id_query(f"Whose rewards: {OWN_USER_OR_NAMED}"),
]


class RewardOut(Schema):
    id: int
    user_id: int | str
    reward_id: str | None
    source: str
    source_id: str
    type: str
    value: float
    currency: str | None
    items: list[dict[str, Any]] | None
    metadata: dict[str, Any]
    status: str
    expires_at: datetime | None
    claimed_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ClaimedOut(RewardOut):
    effects: dict[str, Any]


def _out(view: RewardView) -> RewardOut:
    return RewardOut.model_validate(view)


@router.get(
    "/pending",
    response_model=list[RewardOut],
    summary="A user's claimable rewards, expiring soonest first (expired ones are left out)",
)
async def pending_rewards(
    services: ServicesDep, principal: Reader, user_id: UserIdQuery = None
) -> list[RewardOut]:
    views = await services.rewards.pending(acting_user(principal, user_id))
    return [_out(view) for view in views]


@router.get(
    "",
    response_model=list[RewardOut],
    summary="A user's rewards in every status (or one `status`), newest first",
)
async def reward_history(
    services: ServicesDep,
    principal: Reader,
    user_id: UserIdQuery = None,
    status: Annotated[RewardStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[RewardOut]:
    who = acting_user(principal, user_id)
    views = await services.rewards.history(who, status=status, limit=limit)
    return [_out(view) for view in views]


@router.post(
    "/{distribution_id}/claim",
    response_model=ClaimedOut,
    summary="Claim a pending reward (once; 409 when claimed, expired or revoked); "
    "the answer's `effects` say what it paid out",
)
async def claim_reward(
    distribution_id: DistributionId, services: ServicesDep, principal: Reader
) -> ClaimedOut:
    return ClaimedOut.model_validate(await services.rewards.claim(distribution_id, principal))


@router.post(
    "/{distribution_id}/revoke",
    response_model=RewardOut,
    summary="Revoke a pending reward (admin; 409 when claimed, expired or revoked)",
)
async def revoke_reward(
    distribution_id: DistributionId, services: ServicesDep, _: Admin
) -> RewardOut:
    return _out(await services.rewards.revoke(distribution_id))
