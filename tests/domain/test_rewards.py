"""Reward statuses: lazy expiry and which moves are allowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accolade.domain.rewards import RewardStatus, claim_refusal, revoke_refusal, status_as_of

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_pending_without_expiry_stays_pending():
    assert status_as_of("PENDING", None, NOW) is RewardStatus.PENDING


def test_pending_before_its_expiry_is_pending():
    assert status_as_of("PENDING", NOW + timedelta(seconds=1), NOW) is RewardStatus.PENDING


def test_pending_at_its_expiry_is_expired():
    assert status_as_of("PENDING", NOW, NOW) is RewardStatus.EXPIRED


@pytest.mark.parametrize("status", ["CLAIMED", "REVOKED"])
def test_final_statuses_do_not_expire(status):
    assert status_as_of(status, NOW - timedelta(days=1), NOW) is RewardStatus(status)


def test_only_pending_may_be_claimed():
    assert claim_refusal(RewardStatus.PENDING) is None
    refusals = {s: claim_refusal(s) for s in RewardStatus if s is not RewardStatus.PENDING}
    assert "claimed" in str(refusals[RewardStatus.CLAIMED])
    assert "expired" in str(refusals[RewardStatus.EXPIRED])
    assert "revoked" in str(refusals[RewardStatus.REVOKED])


def test_only_pending_may_be_revoked():
    assert revoke_refusal(RewardStatus.PENDING) is None
    assert all(revoke_refusal(s) for s in RewardStatus if s is not RewardStatus.PENDING)
