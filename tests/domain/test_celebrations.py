from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accolade.domain.celebrations import (
    REVENUE_THRESHOLDS,
    Celebration,
    CelebrationType,
    ContestPlacement,
    badge_earned,
    contest_payout,
    highest_threshold_crossed,
    level_up,
    ordinal,
    rank_change,
    revenue_milestone,
    should_celebrate_rank_change,
    signup_milestone,
    streak_milestone,
    xp_milestones,
)


def test_badge_earned_title_type_rarity_and_icon() -> None:
    c = badge_earned(
        123,
        "John Doe",
        "Master Trainer",
        "Completed all training modules",
        icon="🎓",
        rarity="legendary",
    )
    assert c.title == "🏅 Master Trainer Badge Earned!"
    assert c.description == "Completed all training modules"
    assert c.achievement_type == "milestone"
    assert c.icon == "🎓"
    assert c.extra["rarity"] == "legendary"


def test_badge_carries_its_rarity_percent_and_first() -> None:
    payload = badge_earned(1, "A", "Test", "d", rarity_percent=2.5, first=True).as_payload()
    assert (payload["rarityPercent"], payload["first"]) == (2.5, True)
    assert badge_earned(1, "A", "Test", "d").as_payload()["first"] is False


def test_badge_without_icon_gets_the_medal() -> None:
    assert badge_earned(1, "A", "Test", "d").icon == "🏅"


def test_level_up_matches_seed_example() -> None:
    c = level_up(123, "John Doe", old_level=9, new_level=10, total_xp=5000)
    assert c is not None
    assert c.title == "🎖 Level 10 Achieved!"
    assert c.description == "Reached level 10 with 5,000 total XP"
    assert c.achievement_type == CelebrationType.MILESTONE


def test_same_level_is_not_celebrated() -> None:
    assert level_up(1, "A", old_level=4, new_level=4, total_xp=800) is None


def test_level_down_is_not_celebrated() -> None:
    assert level_up(1, "A", old_level=5, new_level=4, total_xp=800) is None


def test_multi_level_jump_is_one_celebration_for_the_level_reached() -> None:
    c = level_up(1, "A", old_level=2, new_level=6, total_xp=2000)
    assert c is not None and c.title == "🎖 Level 6 Achieved!"


def test_xp_milestone_uses_thousands_separators() -> None:
    [c] = xp_milestones(123, "John Doe", 9_500, 10_200)
    assert c.title == "⭐ 10,000 XP Milestone!"
    assert c.description == "Earned 10,000 total experience points"
    assert c.achievement_type == "milestone"


def test_xp_milestone_one_per_multiple_crossed() -> None:
    titles = [c.title for c in xp_milestones(1, "A", 500, 3000)]
    assert titles == ["⭐ 1,000 XP Milestone!", "⭐ 2,000 XP Milestone!", "⭐ 3,000 XP Milestone!"]


def test_no_xp_milestone_without_crossing() -> None:
    assert xp_milestones(1, "A", 1000, 1999) == []


@pytest.mark.parametrize("days", [7, 14, 28, 35])
def test_streak_multiple_of_7_is_celebrated(days: int) -> None:
    c = streak_milestone(1, "A", days)
    assert c is not None
    assert c.title == f"🔥 {days}-Day Streak!"
    assert c.description == f"Maintained a {days}-day learning streak"
    assert c.achievement_type == "streak"


@pytest.mark.parametrize("days", [0, 1, 6, 8, 30])
def test_streak_not_multiple_of_7_is_not_celebrated(days: int) -> None:
    assert streak_milestone(1, "A", days) is None


def test_revenue_crossing_50k_matches_seed_title() -> None:
    c = revenue_milestone(123, "Jane Smith", 45_000, 52_000)
    assert c is not None
    assert c.title == "💰 $50,000 Revenue Milestone!"
    assert c.achievement_type == "milestone"
    assert c.extra["threshold"] == 50_000


def test_revenue_exactly_at_threshold_is_crossed() -> None:
    c = revenue_milestone(1, "A", 9_999, 10_000)
    assert c is not None and c.extra["threshold"] == 10_000


def test_revenue_already_at_threshold_is_not_crossed_again() -> None:
    assert revenue_milestone(1, "A", 10_000, 24_999) is None


def test_revenue_crossing_several_thresholds_celebrates_only_the_highest() -> None:
    c = revenue_milestone(1, "A", 5_000, 120_000)
    assert c is not None
    assert c.title == "💰 $100,000 Revenue Milestone!"


def test_revenue_million_title() -> None:
    c = revenue_milestone(1, "A", 999_999, 1_000_000)
    assert c is not None and c.title == "💰 $1,000,000 Revenue Milestone!"


def test_revenue_decrease_is_not_celebrated() -> None:
    assert revenue_milestone(1, "A", 60_000, 40_000) is None


def test_signups_milestone_title() -> None:
    c = signup_milestone(1, "A", 95, 100)
    assert c is not None
    assert c.title == "📈 100 Signups Milestone!"


def test_signups_crossing_several_thresholds_celebrates_only_the_highest() -> None:
    c = signup_milestone(1, "A", 0, 60)
    assert c is not None and c.title == "📈 50 Signups Milestone!"


def test_signups_no_change_is_not_celebrated() -> None:
    assert signup_milestone(1, "A", 25, 25) is None


@given(st.integers(0, 2_000_000), st.integers(0, 2_000_000))
def test_highest_threshold_is_the_largest_crossed(old: int, new: int) -> None:
    crossed = [t for t in REVENUE_THRESHOLDS if old < t <= new]
    assert highest_threshold_crossed(old, new, REVENUE_THRESHOLDS) == (
        max(crossed) if crossed else None
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (15, 8, True),  # seed example: into the top 10
        (11, 10, True),  # 11th to 10th
        (20, 15, True),  # exactly 5 places better
        (20, 16, False),  # 4 places, outside the top 10
        (30, 11, True),  # a big jump outside the top 10
        (5, 5, False),  # no change
        (8, 8, False),  # no change inside the top 10
        (3, 5, False),  # a drop inside the top 10
        (12, 40, False),  # a drop
        (2, 1, True),
    ],
)
def test_should_celebrate_rank_change(old: int, new: int, expected: bool) -> None:
    assert should_celebrate_rank_change(old, new) is expected


def test_first_entry_into_top_10_is_celebrated() -> None:
    assert should_celebrate_rank_change(None, 10)


def test_first_entry_outside_top_10_is_not_celebrated() -> None:
    assert not should_celebrate_rank_change(None, 11)


def test_rank_below_1_is_rejected() -> None:
    with pytest.raises(ValueError):
        should_celebrate_rank_change(3, 0)


def test_rank_change_celebration_type_and_text() -> None:
    c = rank_change(123, "Jane Smith", 15, 8, metric="monthly revenue")
    assert c is not None
    assert c.achievement_type == "rank"
    assert c.title == "🚀 Climbed to #8 in monthly revenue!"
    assert c.description == "Moved up from #15 to #8 in monthly revenue"
    assert (c.extra["previousRank"], c.extra["newRank"]) == (15, 8)


def test_rank_change_not_worth_celebrating_is_none() -> None:
    assert rank_change(1, "A", 20, 17) is None


def test_contest_payout_one_celebration_per_top_3_finisher() -> None:
    finishers = [
        ContestPlacement(3, "C", 3),
        ContestPlacement(1, "A", 1, prize="$5000"),
        ContestPlacement(4, "D", 4),
        ContestPlacement(2, "B", 2),
    ]
    titles = [c.title for c in contest_payout("Q4 Sales Challenge", finishers)]
    assert titles == [
        "🏆 Q4 Sales Challenge - 1st Place",
        "🏆 Q4 Sales Challenge - 2nd Place",
        "🏆 Q4 Sales Challenge - 3rd Place",
    ]


def test_contest_celebration_is_type_contest_with_prize() -> None:
    [c] = contest_payout("Q4", [ContestPlacement(7, "A", 1, prize="$5000")])
    assert c.achievement_type == "contest"
    assert c.user_id == 7
    assert c.description == "Finished 1st in Q4 and won $5000"
    assert c.extra["prize"] == "$5000"


def test_contest_with_no_finishers_has_no_celebrations() -> None:
    assert contest_payout("Q4", []) == []


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (102, "102nd"),
        (111, "111th"),
    ],
)
def test_ordinal(n: int, text: str) -> None:
    assert ordinal(n) == text


def test_payload_is_camel_case_and_extra_cannot_override_core_fields() -> None:
    c = Celebration(
        user_id="u-1",
        user_name="A",
        achievement_type=CelebrationType.STREAK,
        title="t",
        description="d",
        icon="🔥",
        extra={"title": "spoofed", "value": 7},
    )
    assert c.as_payload() == {
        "userId": "u-1",
        "userName": "A",
        "achievementType": "streak",
        "title": "t",
        "description": "d",
        "icon": "🔥",
        "rarityPercent": None,
        "first": False,
        "value": 7,
    }
