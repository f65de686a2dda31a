"""Request and response bodies: camelCase JSON, validated at the edge."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from accolade.domain.achievements import AchievementType, Operator, Rarity, RewardType, TimeUnit


# JSON types as the schema states them. Pydantic's lax mode would take `"5"` or `true` for an
# integer, `0` for a moment or a boolean; a body field takes only its own JSON type. (Query and
# path parameters are text on the wire and keep the lax parsing.) An integer may be written
# `5.0`: JSON Schema counts that as the integer 5.
def json_integer(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("must be an integer")
    return value


def json_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


Bool = StrictBool


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 lies before the year 1 in UTC
        raise ValueError("must lie between the years 1 and 9999 in UTC") from None


# A moment a client sends: an ISO 8601 string with a zone (`Z` or an offset), kept as UTC.
Instant = Annotated[AwareDatetime, BeforeValidator(json_string), AfterValidator(_utc)]

MAX_JSON_DEPTH = 64
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
# The largest integer every JSON parser reads exactly (a double's 53 bits; JavaScript's
# Number.MAX_SAFE_INTEGER): the bound of integer ids, so that no client or schema validator
# rounds one across it.
JSON_SAFE_INT = 2**53 - 1


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


def finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# A name or label has something visible in it. Its limits apply to the text as sent (what the
# schema states), and it is kept without the spaces around it (`trim`, after them).
VISIBLE = r"\S"


def trim(value: str) -> str:
    return _no_nul(value).strip()


Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=VISIBLE), AfterValidator(trim)
]
# A metric or event type: `revenue`, `quiz.completed`, any custom name.
MetricName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=VISIBLE), AfterValidator(trim)
]
ShortText = Annotated[str, StringConstraints(max_length=255), AfterValidator(_no_nul)]
Description = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(_no_nul)]
JsonValue = Annotated[Any, AfterValidator(_storable_json)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
FiniteFloat = Annotated[float, Field(strict=True), AfterValidator(finite)]


def _user_id(value: Any) -> Any:
    """One clear error for a bad user id, named `userId` (a failed union would report each of its
    members, as `userId.constrained-int` and `userId.function-after[...]`).

    A number without a fraction (`5.0`) is the integer it spells, as JSON Schema counts it: JSON
    has one number type, and many encoders write integers that way."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an integer or a non-empty string")
    if isinstance(value, int) and not -JSON_SAFE_INT <= value <= JSON_SAFE_INT:
        raise ValueError(
            f"an integer user id must lie within ±{JSON_SAFE_INT} (send larger ids as strings)"
        )
    if isinstance(value, str):
        if not 1 <= len(value) <= 255:
            raise ValueError("a string user id must have 1 to 255 characters")
        _no_nul(value)
    return value


# A host application's user id: a JSON integer or a non-empty string, kept with its JSON type.
UserIdIn = Annotated[
    Annotated[StrictInt, Field(ge=-JSON_SAFE_INT, le=JSON_SAFE_INT)]
    | Annotated[
        StrictStr, StringConstraints(min_length=1, max_length=255), AfterValidator(_no_nul)
    ],
    BeforeValidator(_user_id),
    Field(
        description="The host application's user id: an integer (within ±2^53-1; `5.0` is 5) "
        "or a string of 1 to 255 characters. It comes back with the JSON type first given."
    ),
]
RowId = Annotated[int, Field(ge=1, le=INT32_MAX), BeforeValidator(json_integer)]


# Where a user token acts for itself by default (`deps.acting_user`).
OWN_USER_OR_NAMED = (
    "a user token may leave it out (its own); an admin or service token must name it (422)."
)


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


# --- an event's effects (`POST /api/events`, sales, training) ---------------------------------


class XpGainOut(Schema):
    gained: int
    total: int
    level: int
    previous_level: int
    tier: str


class StreakDayOut(Schema):
    current: int
    best: int
    last_active_day: str | None = Field(description="YYYY-MM-DD in the user's time zone.")
    reset: bool


class UnlockedOut(Schema):
    achievement_id: int
    name: str
    reward_distribution_ids: list[int]


class EffectsOut(Schema):
    """What one event did: stored as `eventId`, the metrics it moved, XP and level, streak,
    achievements unlocked, celebrations, places on boards, quest steps."""

    event_id: int
    user_id: int | str
    type: str
    occurred_at: datetime
    metrics: dict[str, float] = Field(description="Each metric the event moved, by how much.")
    xp: XpGainOut | None
    streak: StreakDayOut | None
    unlocked: list[UnlockedOut]
    celebrations: list[str]
    ranks: list[dict[str, Any]] = Field(
        description="Places on boards this event moved (`metric`, `period`, `previousRank`, "
        "`newRank`, ...) and milestones reached."
    )
    quests: list[dict[str, Any]] = Field(description="Quest runs this event moved.")


class BatchOut(Schema):
    results: list[EffectsOut] = Field(description="One answer per event, in order.")
    replayed: int = Field(description="How many were repeats of a stored `idempotencyKey`.")


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
    duration: Annotated[int, Field(ge=1, le=366 * 24 * 60), BeforeValidator(json_integer)]
    unit: TimeUnit


class RequirementIn(StrictSchema):
    type: ShortText | None = Field(None, description="Free label (seed 002's RequirementType).")
    metric: MetricName
    operator: Operator
    threshold: FiniteFloat
    timeframe: TimeframeIn | None = None


class RewardItemIn(StrictSchema):
    id: ShortText | None = None
    type: Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_no_nul)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000), BeforeValidator(json_integer)] = 1
    metadata: JsonObject = Field(default_factory=dict)


class RewardIn(StrictSchema):
    # The schema's way of saying "a CURRENCY reward names its currency".
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"type": {"not": {"const": "CURRENCY"}}}},
                {
                    "required": ["currency"],
                    "properties": {"currency": {"type": "string", "minLength": 1}},
                },
            ]
        }
    )

    id: ShortText | None = None
    type: RewardType
    value: Annotated[float, Field(ge=0, le=1e12, strict=True), AfterValidator(finite)] = 0
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
    points: Annotated[int, Field(ge=0, le=1_000_000_000), BeforeValidator(json_integer)] | None = (
        None
    )
    icon: ShortText | None = None
    rarity: Rarity | None = None
    secret: Bool | None = None
    requirements: list[RequirementIn] | None = Field(None, max_length=50)
    rewards: list[RewardIn] | None = Field(None, max_length=50)
    is_enabled: Bool | None = None
    revocable: Bool | None = Field(
        None,
        description="True: an unlock whose rule no longer holds (a reversed event, a rule "
        "change) is taken back. Default false: unlocks are kept.",
    )
    metadata: JsonObject | None = None

    @model_validator(mode="after")
    def _title_is_name(self) -> AchievementFields:
        if self.name is None and self.title is not None:
            self.name = self.title
        return self


class AchievementIn(AchievementFields):
    # A `name` or, as seed 002 says it, a `title`.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["name"], "properties": {"name": {"type": "string"}}},
                {"required": ["title"], "properties": {"title": {"type": "string"}}},
            ]
        }
    )

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
    revocable: bool
    metadata: Any
    created_at: datetime
    updated_at: datetime
    unlocked_count: int = Field(description="How many users hold it now.")
    rarity_percent: float = Field(
        description="Holders as a share of the users with at least one event, 0-100, one "
        "decimal (0 while nobody has an event)."
    )


# --- audit log (`GET /api/admin/audit`) ------------------------------------------------------


class AuditEntryOut(Schema):
    id: int
    at: datetime
    actor: str | None = Field(description="The token's subject (`sub`).")
    role: str | None = Field(description="The token's role.")
    action: str = Field(description="`<thing>.<verb>`, e.g. `achievement.update`.")
    target: str | None = Field(description="What changed, e.g. `achievement:12`.")
    details: dict[str, Any] = Field(
        description="`before` and `after` (as the API shows the thing) where they apply, and "
        "what else the action names (`userId`, `userIds`, `reason`, ...)."
    )


# --- recompute and simulate (a rule fix, a "what if") ----------------------------------------


class RecomputeOut(Schema):
    unlocked: int = Field(
        description="Users who met the rule in their history and unlocked it now, quietly "
        "(their own screen, not the TV)."
    )
    revoked: int = Field(description="Holders who no longer meet it, revoked (`revocable`).")
    kept: int = Field(description="Holders who no longer meet it, kept (not `revocable`).")


class AchievementPatchedOut(AchievementOut):
    recompute: RecomputeOut | None = Field(
        None,
        description="When the PATCH changed `requirements`: what re-evaluating every user "
        "against the new rule changed. Null otherwise.",
    )


class FirstUnlockOut(Schema):
    user_id: int | str
    user_name: str | None
    at: datetime = Field(description="When the user's history first met the rule.")


class DayUnlocksOut(Schema):
    day: date = Field(description="A UTC day.")
    unlocks: int


class SimulationOut(Schema):
    qualifying: int = Field(description="Users who meet the rule now.")
    active_users: int = Field(description="Users with at least one event (rarity's base).")
    rarity_percent: float = Field(description="qualifying / activeUsers x 100, one decimal.")
    first_unlocks: list[FirstUnlockOut] = Field(
        description="The first users whose history met the rule, earliest first (up to 10)."
    )
    per_day: list[DayUnlocksOut] = Field(
        description="Users who first met the rule, per UTC day: what the TV would have shown."
    )


# --- reversals (`POST /api/events/{eventId}/reverse`) ----------------------------------------


class ReverseIn(Schema):
    reason: Description | None = Field(
        None, description="Why (a refund, a mistake): kept with the reversal."
    )


class XpReversedOut(Schema):
    before: int
    after: int = Field(description="Never below 0.")
    level_before: int
    level_after: int


class BoardMoveOut(Schema):
    metric: str
    period: str
    period_key: str
    delta: float = Field(description="How much the user's row on this board went down (or up).")


class RevokedOut(Schema):
    achievement_id: int
    name: str
    reward_distribution_ids: list[int] = Field(description="PENDING rewards now REVOKED.")


class ReversalEffectsOut(Schema):
    """What the reversal moved back: the event's metrics (negated), XP and level, the streak
    recomputed, every board of every period, places, contests, quests, unlocks revoked."""

    type: str
    occurred_at: datetime
    metrics: dict[str, float] = Field(description="Each metric moved back, by how much.")
    xp: XpReversedOut | None
    streak: dict[str, Any] | None = Field(
        description="`before` and `after` `{current, best, lastActiveDay}` for a streak day."
    )
    boards: list[BoardMoveOut]
    ranks: list[dict[str, Any]] = Field(
        description="Place changes on the headline boards, as an event's `ranks`."
    )
    contests: list[dict[str, Any]] = Field(
        description="Standings changes in the contests the event had counted in."
    )
    unlocked: list[UnlockedOut] = Field(description="Rules that hold now (an `lt` rule).")
    quests: list[dict[str, Any]]
    revoked: list[RevokedOut] = Field(description="Revocable unlocks no longer held.")


class ReversalOut(Schema):
    event_id: int
    reversed_at: datetime
    effects: ReversalEffectsOut
