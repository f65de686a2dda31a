"""The vocabulary of achievements: types, requirement operators, timeframes and rewards.

Pure data, no I/O: the API validates against these names, the engine evaluates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AchievementType(StrEnum):
    MILESTONE = "MILESTONE"
    COLLECTION = "COLLECTION"
    PROGRESSION = "PROGRESSION"
    DISCOVERY = "DISCOVERY"
    SKILL = "SKILL"
    SOCIAL = "SOCIAL"
    CHALLENGE = "CHALLENGE"
    SECRET = "SECRET"


class Rarity(StrEnum):
    COMMON = "common"
    UNCOMMON = "uncommon"
    RARE = "rare"
    EPIC = "epic"
    LEGENDARY = "legendary"


class Operator(StrEnum):
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EQ = "eq"


class TimeUnit(StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"

    @property
    def seconds(self) -> int:
        return {"minutes": 60, "hours": 3600, "days": 86400}[self.value]


class RewardType(StrEnum):
    XP = "XP"
    POINTS = "POINTS"
    CURRENCY = "CURRENCY"
    BADGE = "BADGE"
    ITEM = "ITEM"


@dataclass(frozen=True, slots=True)
class Timeframe:
    duration: int
    unit: TimeUnit

    @property
    def window_s(self) -> int:
        return self.duration * self.unit.seconds


@dataclass(frozen=True, slots=True)
class Requirement:
    """`metric operator threshold`, optionally counted only inside a trailing time window."""

    metric: str
    operator: Operator
    threshold: float
    timeframe: Timeframe | None = None
