from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accolade.domain.levels import (
    DEFAULT_CURVE,
    LevelCurve,
    LevelProgress,
    Tier,
    level_for_xp,
    level_progress,
    tier_for_level,
    tier_upgrade,
    xp_for_level,
    xp_milestones_crossed,
)

levels = st.integers(min_value=1, max_value=2000)
curves = st.builds(
    LevelCurve,
    anchor_level=st.integers(min_value=2, max_value=100),
    anchor_xp=st.integers(min_value=10_000, max_value=10_000_000),
    linear_share=st.floats(min_value=0.0, max_value=1.0),
)


def test_level_1_is_reached_at_zero_xp() -> None:
    assert xp_for_level(1) == 0


def test_default_curve_puts_level_10_at_5000_xp() -> None:
    assert xp_for_level(10) == 5000


def test_5000_xp_is_level_10_and_4999_is_level_9() -> None:
    assert level_for_xp(5000) == 10
    assert level_for_xp(4999) == 9


def test_default_curve_matches_documented_thresholds() -> None:
    documented = {2: 160, 3: 420, 5: 1235, 15: 11235, 20: 19938, 30: 44753, 50: 124012}
    assert {n: xp_for_level(n) for n in documented} == documented


def test_zero_and_negative_xp_are_level_1() -> None:
    assert level_for_xp(0) == 1
    assert level_for_xp(-50) == 1


def test_level_below_1_is_rejected() -> None:
    with pytest.raises(ValueError):
        xp_for_level(0)


def test_custom_curve_moves_the_anchor() -> None:
    curve = LevelCurve(anchor_level=5, anchor_xp=2000)
    assert curve.xp_for_level(5) == 2000
    assert level_for_xp(2000, curve) == 5


def test_pure_linear_curve_has_equal_steps() -> None:
    curve = LevelCurve(anchor_level=11, anchor_xp=1000, linear_share=1.0)
    assert [curve.xp_for_level(n) for n in range(1, 5)] == [0, 100, 200, 300]
    assert curve.level_for_xp(250) == 3


def test_curve_too_flat_to_separate_levels_is_rejected() -> None:
    with pytest.raises(ValueError):
        LevelCurve(anchor_level=100, anchor_xp=50)


def test_linear_share_outside_0_to_1_is_rejected() -> None:
    with pytest.raises(ValueError):
        LevelCurve(linear_share=1.5)


def test_progress_reports_thresholds_of_this_and_next_level() -> None:
    progress = level_progress(5100)
    assert progress == LevelProgress(
        level=10, xp=5100, current_level_xp=5000, next_level_xp=xp_for_level(11)
    )
    assert progress.xp_into_level == 100
    assert progress.xp_to_next_level == xp_for_level(11) - 5100


def test_progress_as_dict_uses_camel_case_keys() -> None:
    assert level_progress(0).as_dict() == {
        "level": 1,
        "xp": 0,
        "currentLevelXp": 0,
        "nextLevelXp": 160,
    }


def test_progress_fraction_is_zero_at_level_start() -> None:
    assert level_progress(5000).fraction == 0.0


@given(levels)
def test_level_for_xp_inverts_xp_for_level(level: int) -> None:
    assert level_for_xp(xp_for_level(level)) == level


@given(levels)
def test_one_xp_short_of_a_level_is_the_level_below(level: int) -> None:
    if level > 1:
        assert level_for_xp(xp_for_level(level) - 1) == level - 1


@given(levels)
def test_curve_is_strictly_increasing(level: int) -> None:
    assert xp_for_level(level + 1) > xp_for_level(level)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_level_for_xp_is_monotonic(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert level_for_xp(low) <= level_for_xp(high)


@given(st.integers(min_value=0, max_value=10**9))
def test_progress_brackets_the_xp(xp: int) -> None:
    progress = level_progress(xp)
    assert progress.current_level_xp <= xp < progress.next_level_xp


@given(curves, st.integers(min_value=1, max_value=500))
def test_any_valid_curve_round_trips_and_hits_its_anchor(curve: LevelCurve, level: int) -> None:
    assert curve.xp_for_level(curve.anchor_level) == curve.anchor_xp
    assert curve.xp_for_level(level + 1) > curve.xp_for_level(level)
    assert curve.level_for_xp(curve.xp_for_level(level)) == level


def test_default_curve_is_the_module_default() -> None:
    assert LevelCurve(anchor_level=10, anchor_xp=5000, linear_share=0.2) == DEFAULT_CURVE


@pytest.mark.parametrize(
    ("level", "label"),
    [
        (1, "Bronze III"),
        (4, "Bronze III"),
        (5, "Bronze II"),
        (7, "Bronze II"),
        (8, "Bronze I"),
        (10, "Bronze I"),
        (11, "Silver III"),
        (20, "Silver I"),
        (21, "Gold III"),
        (31, "Platinum III"),
        (41, "Diamond III"),
        (48, "Diamond I"),
        (500, "Diamond I"),
    ],
)
def test_tier_bands(level: int, label: str) -> None:
    assert tier_for_level(level).label == label


def test_level_11_is_silver_iii_as_in_seed_003() -> None:
    tier = tier_for_level(11)
    assert (tier.code, tier.label) == ("SILVER", "Silver III")


def test_division_iii_is_below_division_i() -> None:
    assert Tier("Silver", 3) < Tier("Silver", 2) < Tier("Silver", 1) < Tier("Gold", 3)


def test_level_10_to_11_is_a_tier_upgrade() -> None:
    assert tier_upgrade(10, 11) == Tier("Silver", 3)


def test_level_up_within_a_division_is_no_tier_upgrade() -> None:
    assert tier_upgrade(11, 12) is None


def test_level_down_is_no_tier_upgrade() -> None:
    assert tier_upgrade(11, 9) is None


def test_unknown_tier_name_is_rejected() -> None:
    with pytest.raises(ValueError):
        Tier("Wood", 3)


@given(levels)
def test_tier_never_drops_as_level_rises(level: int) -> None:
    assert tier_for_level(level + 1) >= tier_for_level(level)


def test_xp_milestones_lists_each_multiple_crossed() -> None:
    assert xp_milestones_crossed(900, 3100) == [1000, 2000, 3000]


def test_xp_milestone_exactly_reached_counts() -> None:
    assert xp_milestones_crossed(999, 1000) == [1000]


def test_xp_milestone_already_reached_does_not_count_again() -> None:
    assert xp_milestones_crossed(1000, 1999) == []


def test_no_xp_milestone_when_xp_falls() -> None:
    assert xp_milestones_crossed(2500, 500) == []


def test_xp_milestones_with_custom_step() -> None:
    assert xp_milestones_crossed(0, 1000, step=250) == [250, 500, 750, 1000]


@given(st.integers(min_value=-5000, max_value=10**7), st.integers(min_value=0, max_value=10**5))
def test_xp_milestones_are_exactly_the_multiples_in_range(old: int, gain: int) -> None:
    new = old + gain
    expected = [m for m in range(1000, new + 1, 1000) if old < m]
    assert xp_milestones_crossed(old, new) == expected
