"""Request and response bodies: camelCase JSON, validated at the edge."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from accolade.domain.achievements import AchievementType, Operator, Rarity, RewardType, TimeUnit


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 lies before the year 1 in UTC
        raise ValueError("must lie between the years 1 and 9999 in UTC") from None


# A moment a client sends: with a zone (`Z` or an offset), kept as UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]

MAX_JSON_DEPTH = 64
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store U+0000 in text or JSONB; refuse it on both databases alike.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    # JSON's `\ud800` escapes can smuggle in lone surrogates, which no UTF-8 store or response
    # can carry (pydantic refuses them in `str` fields, but not inside free-form JSON).
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no unpaired surrogate escapes)") from exc
    return value


def _storable_json(value: Any, depth: int = 0) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        return _no_nul(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not JSON numbers")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _storable_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item, depth + 1)
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_no_nul),
]
ShortText = Annotated[str, StringConstraints(max_length=255), AfterValidator(_no_nul)]
Description = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(_no_nul)]
JsonValue = Annotated[Any, AfterValidator(_storable_json)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
FiniteFloat = Annotated[float, AfterValidator(_finite)]


def _user_id(value: Any) -> Any:
    """One clear error for a bad user id, named `userId` (a failed union would report each of its
    members, as `userId.constrained-int` and `userId.function-after[...]`)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an integer or a non-empty string")
    if isinstance(value, int) and not -INT64_MAX <= value <= INT64_MAX:
        raise ValueError(f"an integer user id must lie within ±{INT64_MAX}")
    if isinstance(value, str):
        if not 1 <= len(value) <= 255:
            raise ValueError("a string user id must have 1 to 255 characters")
        _no_nul(value)
    return value


# A host application's user id: a JSON integer or a non-empty string, kept with its JSON type.
UserIdIn = Annotated[
    Annotated[StrictInt, Field(ge=-INT64_MAX, le=INT64_MAX)]
    | Annotated[
        StrictStr, StringConstraints(min_length=1, max_length=255), AfterValidator(_no_nul)
    ],
    BeforeValidator(_user_id),
    Field(description="The host application's user id: an integer or a string."),
]
RowId = Annotated[int, Field(ge=1, le=INT32_MAX)]


def user_id_query(description: str | None = None) -> Any:
    """The `?userId=` query parameter as every endpoint takes it (a string: ids are compared as
    text, `123` and `"123"` name the same user)."""
    return Query(
        alias="userId",
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00]+$",
        description=description,
    )


TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_nul)
]


class Schema(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True, extra="ignore"
    )


class StrictSchema(Schema):
    """For rules, where a misspelt field must be an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


# --- users -----------------------------------------------------------------------------------


class UserIn(Schema):
    user_id: UserIdIn
    user_name: Name | None = None
    time_zone: TimeZoneName | None = Field(None, description="IANA name, e.g. Europe/Berlin")


class UserOut(Schema):
    user_id: int | str
    user_name: str | None
    time_zone: str | None
    created_at: datetime


# --- seed 004: definitions and progress ------------------------------------------------------


class DefinitionIn(Schema):
    name: Name
    description: Description | None = None


class DefinitionPatch(Schema):
    name: Name | None = None
    description: Description | None = None


class DefinitionOut(Schema):
    id: int
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class ProgressIn(Schema):
    user_id: UserIdIn
    achievement_id: RowId
    metadata: JsonValue = Field(
        None, description="Any JSON; replaces the stored value. Omitted: the stored value is kept."
    )


class UnlockIn(Schema):
    user_id: UserIdIn
    achievement_id: RowId


class ProgressOut(Schema):
    id: int
    user_id: int | str
    achievement_id: int
    unlocked_at: datetime | None
    metadata: Any
    created_at: datetime
    updated_at: datetime


# --- seed 002: rich achievements -------------------------------------------------------------


class TimeframeIn(StrictSchema):
    duration: Annotated[int, Field(ge=1, le=366 * 24 * 60)]
    unit: TimeUnit


class RequirementIn(StrictSchema):
    type: ShortText | None = Field(None, description="Free label (seed 002's RequirementType).")
    metric: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
        AfterValidator(_no_nul),
    ]
    operator: Operator
    threshold: FiniteFloat
    timeframe: TimeframeIn | None = None


class RewardItemIn(StrictSchema):
    id: ShortText | None = None
    type: Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_no_nul)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    metadata: JsonObject = Field(default_factory=dict)


class RewardIn(StrictSchema):
    id: ShortText | None = None
    type: RewardType
    value: Annotated[float, Field(ge=0, le=1e12), AfterValidator(_finite)] = 0
    currency: ShortText | None = None
    items: list[RewardItemIn] | None = Field(None, max_length=100)
    expires_at: Instant | None = Field(None, alias="expiresAt")
    metadata: JsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _currency_named(self) -> RewardIn:
        if self.type is RewardType.CURRENCY and not self.currency:
            raise ValueError("a CURRENCY reward names its `currency`")
        return self


AchievementKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]


class AchievementFields(Schema):
    key: AchievementKey | None = None
    name: Name | None = Field(None, description="Also accepted as `title` (seed 002).")
    title: Name | None = Field(None, exclude=True)
    description: Description | None = None
    type: AchievementType | None = None
    category: Annotated[str, StringConstraints(max_length=100), AfterValidator(_no_nul)] | None = (
        None
    )
    points: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None
    icon: ShortText | None = None
    rarity: Rarity | None = None
    secret: bool | None = None
    requirements: list[RequirementIn] | None = Field(None, max_length=50)
    rewards: list[RewardIn] | None = Field(None, max_length=50)
    is_enabled: bool | None = None
    metadata: JsonObject | None = None

    @model_validator(mode="after")
    def _title_is_name(self) -> AchievementFields:
        if self.name is None and self.title is not None:
            self.name = self.title
        return self


class AchievementIn(AchievementFields):
    @model_validator(mode="after")
    def _named(self) -> AchievementIn:
        if self.name is None:
            raise ValueError("an achievement needs a `name` (or `title`)")
        return self


class RequirementOut(Schema):
    type: str | None = None
    metric: str
    operator: str
    threshold: float
    timeframe: dict[str, Any] | None = None


class AchievementOut(Schema):
    id: int
    key: str | None
    name: str
    title: str
    description: str | None
    type: str
    category: str | None
    points: int
    icon: str | None
    rarity: str
    secret: bool
    requirements: list[dict[str, Any]]
    rewards: list[dict[str, Any]]
    is_enabled: bool
    metadata: Any
    created_at: datetime
    updated_at: datetime
