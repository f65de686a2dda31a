"""Reward distributions: their statuses and which moves between them are allowed. Pure; no I/O.

A distribution is PENDING from the moment it is given until it is claimed (once), revoked by an
admin, or reaches its `expiresAt`. A PENDING one whose `expiresAt` has come *is* EXPIRED, whether
or not a write has recorded it yet; readers and writers both see it so (`status_as_of`).
CLAIMED, EXPIRED and REVOKED are final.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class RewardStatus(StrEnum):
    PENDING = "PENDING"
    CLAIMED = "CLAIMED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


def status_as_of(status: str, expires_at: datetime | None, now: datetime) -> RewardStatus:
    """The status at `now`: a PENDING distribution at or past its `expires_at` is EXPIRED."""
    current = RewardStatus(status)
    if current is RewardStatus.PENDING and expires_at is not None and expires_at <= now:
        return RewardStatus.EXPIRED
    return current


_CLAIM_REFUSALS = {
    RewardStatus.CLAIMED: "this reward was claimed already",
    RewardStatus.EXPIRED: "this reward has expired and can no longer be claimed",
    RewardStatus.REVOKED: "this reward was revoked and can no longer be claimed",
}
_REVOKE_REFUSALS = {
    RewardStatus.CLAIMED: "this reward was claimed already and can no longer be revoked",
    RewardStatus.EXPIRED: "this reward has expired; there is nothing left to revoke",
    RewardStatus.REVOKED: "this reward was revoked already",
}


def claim_refusal(status: RewardStatus) -> str | None:
    """Why a distribution in `status` cannot be claimed, or None when it can (PENDING)."""
    return _CLAIM_REFUSALS.get(status)


def revoke_refusal(status: RewardStatus) -> str | None:
    """Why a distribution in `status` cannot be revoked, or None when it can (PENDING)."""
    return _REVOKE_REFUSALS.get(status)
