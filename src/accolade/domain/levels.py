"""XP levels, tiers and XP milestones.

The level curve
---------------
Total XP needed to *reach* level ``n`` (level 1 needs 0 XP) is a quadratic pinned to an anchor::

    t = (n - 1) / (anchor_level - 1)
    xp_for_level(n) = round_half_up(anchor_xp * (linear_share * t + (1 - linear_share) * t**2))

The default curve, ``LevelCurve(anchor_level=10, anchor_xp=5000, linear_share=0.2)``, puts level 10
at exactly 5,000 XP, as seed 000's "Reached level 10 with 5,000 total XP" does. Expanded, that is
``49.38 * (n-1)**2 + 111.11 * (n-1)``: the linear part keeps the first levels quick, the quadratic
part makes each later level cost a little more than the one before. Some default thresholds:

    level    1    2    3    4    5     6     7     8     9    10     15     20     30     50
    XP       0  160  420  778 1235  1790  2444  3198  4049  5000  11235  19938  44753 124012

Tiers
-----
Levels group into five tiers of ``levels_per_tier`` (default 10) levels: Bronze 1-10, Silver 11-20,
Gold 21-30, Platinum 31-40, Diamond 41 and above. Each tier has three divisions, III (lowest), II
and I; the odd level goes to III, so a 10-level tier splits 4/3/3:

    Bronze III 1-4,    Bronze II 5-7,    Bronze I 8-10
    Silver III 11-14,  Silver II 15-17,  Silver I 18-20   ... and so on up to
    Diamond III 41-44, Diamond II 45-47, Diamond I 48+

so seed 003's level-up from 10 to 11 is also the upgrade to "Silver III".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import total_ordering

TIER_NAMES: tuple[str, ...] = ("Bronze", "Silver", "Gold", "Platinum", "Diamond")
DIVISIONS_PER_TIER = 3
_ROMAN = {1: "I", 2: "II", 3: "III"}


def _round_half_up(x: float) -> int:
    # round() rounds halves to even; thresholds should not depend on that quirk.
    return math.floor(x + 0.5)


@dataclass(frozen=True, slots=True)
class LevelCurve:
    """A smooth, strictly increasing XP curve, pinned so that `anchor_level` costs `anchor_xp`.

    `linear_share` (0 to 1) is the part of the anchor XP that grows linearly with the level; the
    rest grows with its square. 0 gives a pure quadratic, 1 a straight line.
    """

    anchor_level: int = 10
    anchor_xp: int = 5000
    linear_share: float = 0.2

    def __post_init__(self) -> None:
        if self.anchor_level < 2:
            raise ValueError(f"anchor_level must be at least 2, got {self.anchor_level}")
        if not 0.0 <= self.linear_share <= 1.0:
            raise ValueError(f"linear_share must be between 0 and 1, got {self.linear_share}")
        # Each level must cost at least 1 XP more than the last, or two levels would share a
        # threshold after rounding; the first step (1 -> 2) is the cheapest one.
        if self._raw(2) < 1.0:
            raise ValueError(
                f"anchor_xp={self.anchor_xp} is too small for anchor_level={self.anchor_level}: "
                "level 2 would cost less than 1 XP"
            )

    def _raw(self, level: int) -> float:
        t = (level - 1) / (self.anchor_level - 1)
        return self.anchor_xp * (self.linear_share * t + (1.0 - self.linear_share) * t * t)

    def xp_for_level(self, level: int) -> int:
        """Total XP at which `level` is reached (level 1 is reached at 0 XP)."""
        if level < 1:
            raise ValueError(f"levels start at 1, got {level}")
        if level == self.anchor_level:
            return self.anchor_xp  # exact, whatever the float arithmetic says
        return _round_half_up(self._raw(level))

    def level_for_xp(self, xp: float) -> int:
        """The highest level whose threshold `xp` has reached; 1 for zero or negative XP."""
        if xp <= 0:
            return 1
        # Invert the continuous curve for a first guess, then settle on the exact integer level
        # against the rounded thresholds (at most a step or two either way).
        a = (1.0 - self.linear_share) * self.anchor_xp / (self.anchor_level - 1) ** 2
        b = self.linear_share * self.anchor_xp / (self.anchor_level - 1)
        steps = xp / b if a == 0.0 else (-b + math.sqrt(b * b + 4.0 * a * xp)) / (2.0 * a)
        level = max(1, int(steps) + 1)
        while level > 1 and self.xp_for_level(level) > xp:
            level -= 1
        while self.xp_for_level(level + 1) <= xp:
            level += 1
        return level

    def progress(self, xp: int) -> LevelProgress:
        """Where `xp` sits: its level and the thresholds of that level and the next."""
        level = self.level_for_xp(xp)
        return LevelProgress(
            level=level,
            xp=xp,
            current_level_xp=self.xp_for_level(level),
            next_level_xp=self.xp_for_level(level + 1),
        )


DEFAULT_CURVE = LevelCurve()


@dataclass(frozen=True, slots=True)
class LevelProgress:
    """Progress through a level. `current_level_xp` and `next_level_xp` are total-XP thresholds."""

    level: int
    xp: int
    current_level_xp: int
    next_level_xp: int

    @property
    def xp_into_level(self) -> int:
        return max(0, self.xp - self.current_level_xp)

    @property
    def xp_to_next_level(self) -> int:
        return max(0, self.next_level_xp - self.xp)

    @property
    def fraction(self) -> float:
        """0.0 at the start of the level, approaching 1.0 just before the next one."""
        span = self.next_level_xp - self.current_level_xp
        return min(1.0, self.xp_into_level / span) if span > 0 else 0.0

    def as_dict(self) -> dict[str, int]:
        """The JSON shape `{level, xp, currentLevelXp, nextLevelXp}`."""
        return {
            "level": self.level,
            "xp": self.xp,
            "currentLevelXp": self.current_level_xp,
            "nextLevelXp": self.next_level_xp,
        }


def xp_for_level(level: int, curve: LevelCurve = DEFAULT_CURVE) -> int:
    """Total XP at which `level` is reached on `curve` (the documented default unless given)."""
    return curve.xp_for_level(level)


def level_for_xp(xp: float, curve: LevelCurve = DEFAULT_CURVE) -> int:
    """The level a user with `xp` total XP has on `curve`; 1 for zero or negative XP."""
    return curve.level_for_xp(xp)


def level_progress(xp: int, curve: LevelCurve = DEFAULT_CURVE) -> LevelProgress:
    """Level and the thresholds around it for a progress bar."""
    return curve.progress(xp)


@total_ordering
@dataclass(frozen=True, slots=True)
class Tier:
    """A tier and division, e.g. `Tier("Silver", 3)` labelled "Silver III".

    Division 3 (III) is the lowest in a tier and 1 (I) the highest. Tiers order from Bronze III up
    to Diamond I, so `new_tier > old_tier` is a tier upgrade.
    """

    name: str
    division: int

    def __post_init__(self) -> None:
        if self.name not in TIER_NAMES:
            raise ValueError(f"unknown tier {self.name!r}; expected one of {TIER_NAMES}")
        if self.division not in _ROMAN:
            raise ValueError(f"division must be 1, 2 or 3, got {self.division}")

    @property
    def label(self) -> str:
        """e.g. "Silver III"."""
        return f"{self.name} {_ROMAN[self.division]}"

    @property
    def code(self) -> str:
        """The upper-case tier alone, as seed 003 sends it: "SILVER"."""
        return self.name.upper()

    @property
    def ordinal(self) -> int:
        """0 for Bronze III up to 14 for Diamond I."""
        tier_index = TIER_NAMES.index(self.name)
        return tier_index * DIVISIONS_PER_TIER + (DIVISIONS_PER_TIER - self.division)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Tier):
            return NotImplemented
        return self.ordinal < other.ordinal


def tier_for_level(level: int, levels_per_tier: int = 10) -> Tier:
    """The tier and division of `level` (see the module docstring for the default bands)."""
    if level < 1:
        raise ValueError(f"levels start at 1, got {level}")
    if levels_per_tier < DIVISIONS_PER_TIER:
        raise ValueError(f"levels_per_tier must be at least 3, got {levels_per_tier}")
    tier_index = (level - 1) // levels_per_tier
    if tier_index >= len(TIER_NAMES):
        return Tier(TIER_NAMES[-1], 1)  # beyond the last band: the top division
    offset = (level - 1) % levels_per_tier
    per_division = levels_per_tier // DIVISIONS_PER_TIER
    if offset >= levels_per_tier - per_division:
        division = 1
    elif offset >= levels_per_tier - 2 * per_division:
        division = 2
    else:
        division = 3
    return Tier(TIER_NAMES[tier_index], division)


def tier_upgrade(old_level: int, new_level: int, levels_per_tier: int = 10) -> Tier | None:
    """The new tier when going from `old_level` to `new_level` moves up a division, else None."""
    old_tier = tier_for_level(old_level, levels_per_tier)
    new_tier = tier_for_level(new_level, levels_per_tier)
    return new_tier if new_tier > old_tier else None


def xp_milestones_crossed(old_xp: float, new_xp: float, step: int = 1000) -> list[int]:
    """Each positive multiple of `step` with `old_xp < m <= new_xp`, ascending; [] if XP fell."""
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    if new_xp <= old_xp:
        return []
    # Floor division stays exact for integer XP, however large.
    first = max(1, math.floor(old_xp // step) + 1)
    last = math.floor(new_xp // step)
    return [k * step for k in range(first, last + 1)]
