"""Tables. The schema's history lives in `migrations/`; this module mirrors its head."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; on SQLite (no time zones) stored as UTC, read back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JsonType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class User(Timestamped, Base):
    """A user of the host application. `user_key` is its id as text; `key_is_int` its JSON type."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    key_is_int: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    user_name: Mapped[str | None] = mapped_column(String(255))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # When the user's first event was taken: "active" users are rarity's denominator.
    first_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def external_id(self) -> int | str:
        return int(self.user_key) if self.key_is_int else self.user_key


class Achievement(Timestamped, Base):
    """Seed 004's definition (id, name, description) carrying seed 002's rich fields."""

    __tablename__ = "achievements"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20), nullable=False, default="MILESTONE")
    category: Mapped[str | None] = mapped_column(String(100))
    points: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    icon: Mapped[str | None] = mapped_column(String(255))
    rarity: Mapped[str] = mapped_column(String(20), nullable=False, default="common")
    secret: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    requirements: Mapped[list[dict[str, Any]]] = mapped_column(
        JsonType, nullable=False, default=list
    )
    rewards: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, nullable=False, default=list)
    is_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # True: an unlock whose rule no longer holds (a reversal, a rule change) is taken back.
    revocable: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    meta: Mapped[Any] = mapped_column("metadata", JsonType, nullable=False, default=dict)


class UserAchievement(Timestamped, Base):
    """One row per user and achievement: progress in `metadata`; unlocked once `unlocked_at` set."""

    __tablename__ = "user_achievements"
    __table_args__ = (
        UniqueConstraint(
            "user_id", "achievement_id", name="user_achievements_user_achievement_idx"
        ),
        Index("user_achievements_unlocked_at_idx", "unlocked_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    achievement_id: Mapped[int] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), nullable=False, index=True
    )
    unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meta: Mapped[Any] = mapped_column("metadata", JsonType, nullable=True, default=dict)


class AchievementStats(Base):
    """How many users hold an achievement, and when the first did: kept on every unlock, revoke
    and user deletion, so rarity is read, never counted per request."""

    __tablename__ = "achievement_stats"

    achievement_id: Mapped[int] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), primary_key=True
    )
    unlocked_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Tally(Base):
    """An instance-wide count kept incrementally (`active_users`: users with an event)."""

    __tablename__ = "tallies"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class AuditEntry(Base):
    """One change made through the API: who (token subject and role), what, when, and details
    (before and after where they apply). Written in the change's own transaction."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_action_id", "action", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    actor: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[Any] = mapped_column(JsonType, nullable=False, default=dict)


class InstanceSetting(Base):
    """Values the instance makes for itself once (the generated JWT secret) and all nodes share."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class RoomEvent(Base):
    """An event for a room, and the outbox: written in the command's transaction with `seq` NULL.

    The relay gives each row its public, catch-up id `seq` in commit order (serialised across
    nodes), then publishes it. Rows stay for catch-up and recent history until pruned.
    """

    __tablename__ = "room_events"
    __table_args__ = (
        Index("ix_room_events_room_seq", "room", "seq"),
        Index(
            "ix_room_events_pending",
            "id",
            sqlite_where=text("seq IS NULL"),
            postgresql_where=text("seq IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    room: Mapped[str] = mapped_column(String(300), nullable=False)
    # NULL: every namespace that carries `event`; set: only that namespace (admin broadcast).
    namespace: Mapped[str | None] = mapped_column(String(50))
    event: Mapped[str] = mapped_column(String(100), nullable=False)
    payload: Mapped[Any] = mapped_column(JsonType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class CelebrationRecord(Base):
    """A celebration as shown: the feed, TV replays and the source of its notification."""

    __tablename__ = "celebrations"
    __table_args__ = (
        Index("ix_celebrations_user_id_id", "user_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    achievement_type: Mapped[str] = mapped_column(String(20), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    icon: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[Any] = mapped_column(JsonType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # False for quiet celebrations (backfills): the user's own feed shows them, everyone's not.
    public: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_id", "user_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[Any] = mapped_column(JsonType, nullable=False, default=dict)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class WebsocketSession(Base):
    """Seed 003's websocket_session: one row per live connection, kept fresh by heartbeats."""

    __tablename__ = "websocket_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    namespace: Mapped[str] = mapped_column(String(50), nullable=False)
    transport: Mapped[str] = mapped_column(String(20), nullable=False)
    user_key: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(20))
    rooms: Mapped[list[str]] = mapped_column(JsonType, nullable=False, default=list)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Event(Base):
    """An event as taken in; `result` is the answer, replayed for a repeated idempotency key."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_user_id_occurred_at", "user_id", "occurred_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    value: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    data: Mapped[Any] = mapped_column(JsonType, nullable=False, default=dict)
    result: Mapped[Any] = mapped_column(JsonType, nullable=False, default=dict)
    # Set once by its reversal (`EventReversal`): a reversed event stays stored, counting nothing.
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventReversal(Base):
    """The reversal of one stored event: a ledger entry of its own, at most one per event (the
    unique `event_id` makes a second or concurrent reverse fail), with the effects it undid."""

    __tablename__ = "event_reversals"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("events.id", ondelete="CASCADE"),
        unique=True,
        nullable=False,
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(255))
    reversed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    effects: Mapped[Any] = mapped_column(JsonType, nullable=False, default=dict)


class UserStats(Base):
    """A user's XP, level and streak: the row every command for that user locks first."""

    __tablename__ = "user_stats"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    xp: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    level: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    current_streak: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    best_streak: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_active_day: Mapped[str | None] = mapped_column(String(10))  # ISO date in the user's zone
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class UserMetric(Base):
    """A user's running total of one metric (all time)."""

    __tablename__ = "user_metrics"
    __table_args__ = (Index("ix_user_metrics_metric_value", "metric", "value"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class MetricBucket(Base):
    """A user's metric summed over one time bucket: timeframe windows add up a few buckets."""

    __tablename__ = "metric_buckets"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    bucket_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    value: Mapped[float] = mapped_column(Float, nullable=False, default=0)


class RewardDistribution(Base):
    """A reward given to a user: PENDING until claimed (once), expired or revoked."""

    __tablename__ = "reward_distributions"
    __table_args__ = (
        Index("ix_reward_distributions_user_id_status", "user_id", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # ACHIEVEMENT, QUEST, ...
    source_id: Mapped[str] = mapped_column(String(100), nullable=False)
    reward: Mapped[Any] = mapped_column(JsonType, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="PENDING")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Wallet(Base):
    __tablename__ = "wallets"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(50), primary_key=True)
    balance: Mapped[float] = mapped_column(Float, nullable=False, default=0)


class FlaggedEvent(Base):
    """An event anti-cheat refused, kept for admins."""

    __tablename__ = "flagged_events"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    value: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(300), nullable=False)
    data: Mapped[Any] = mapped_column(JsonType, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Quest(Timestamped, Base):
    """Seed 002's quest: ordered steps (JSON, as the API shows them), rewards and dates."""

    __tablename__ = "quests"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    type: Mapped[str] = mapped_column(String(50), nullable=False)  # free text, e.g. DAILY
    difficulty: Mapped[str] = mapped_column(String(50), nullable=False)  # free text, e.g. EASY
    # [{id, title, description, order, requirements[], rewards[], isOptional}] by `order`.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, nullable=False, default=list)
    rewards: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, nullable=False, default=list)
    requirements: Mapped[list[dict[str, Any]]] = mapped_column(
        JsonType, nullable=False, default=list
    )
    time_limit_s: Mapped[int | None] = mapped_column(Integer)  # from each user's start
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    meta: Mapped[Any] = mapped_column("metadata", JsonType, nullable=False, default=dict)


class QuestProgress(Timestamped, Base):
    """One row per user and quest, from the first start; a restart reuses it (history kept)."""

    __tablename__ = "quest_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "quest_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    quest_id: Mapped[int] = mapped_column(
        ForeignKey("quests.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # NOT_STARTED IN_PROGRESS COMPLETED FAILED EXPIRED (a run past its deadline is EXPIRED on
    # the next write; reads report it so at once).
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    current_step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completed_steps: Mapped[list[str]] = mapped_column(JsonType, nullable=False, default=list)
    step_progress: Mapped[dict[str, float]] = mapped_column(JsonType, nullable=False, default=dict)
    # Metric totals when this run started: step requirements count what was done since.
    baseline: Mapped[dict[str, float]] = mapped_column(JsonType, nullable=False, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, nullable=False, default=list)


class LeaderboardEntry(Base):
    """A user's metric summed over one calendar period (`all`, or the day/week/month/year key).

    The source of truth for every leaderboard store (Redis is rebuilt from these rows). Equal
    values are ordered by `reached_at`: who got there first ranks higher."""

    __tablename__ = "leaderboard_entries"
    __table_args__ = (
        Index(
            "ix_leaderboard_entries_board_order",
            "metric",
            "period",
            "period_key",
            "value",
            "reached_at",
            "user_id",
        ),
    )

    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)  # all day week month year
    period_key: Mapped[str] = mapped_column(String(10), primary_key=True)  # e.g. 2026-W48
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    value: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class LeaderboardBucket(Base):
    """How many rows of a board hold a value in one bucket (`domain.buckets`): the
    order-statistic index that places a user without counting every row ahead. Written in the
    same transaction as the board's rows (`storage.leaderboards`)."""

    __tablename__ = "leaderboard_buckets"

    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_key: Mapped[str] = mapped_column(String(10), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # 0 coarse, 1 fine
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, nullable=False)


class LeaderboardRefresh(Base):
    """When a board may next send `leaderboard:refresh`: one row per board, shared by all nodes."""

    __tablename__ = "leaderboard_refreshes"

    board: Mapped[str] = mapped_column(String(120), primary_key=True)
    next_refresh_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # A change arrived while throttled: the next tick sends one trailing refresh.
    pending: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Team(Timestamped, Base):
    """A team; `team_key` is its id as the API shows it (like users, an integer or a string)."""

    __tablename__ = "teams"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    key_is_int: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)

    @property
    def external_id(self) -> int | str:
        return int(self.team_key) if self.key_is_int else self.team_key


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Contest(Timestamped, Base):
    """A contest on one metric: DRAFT -> LIVE -> ENDED (`domain.contests`), by hand or on time.

    `start_at`/`end_at` are the schedule; `started_at`/`ended_at` when it really went LIVE and
    ENDED. The scheduler finds due contests on the two (status, time) indexes."""

    __tablename__ = "contests"
    __table_args__ = (
        Index("ix_contests_status_start_at", "status", "start_at"),
        Index("ix_contests_status_end_at", "status", "end_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    metric: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="DRAFT")
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prizes: Mapped[list[str]] = mapped_column(JsonType, nullable=False, default=list)
    paid_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The payout as made: [{placement, userId, userName, value, prize, title}].
    payout: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)
    # `private`: entered by invitation, its room and listing only for invitees and entrants.
    visibility: Mapped[str] = mapped_column(
        String(10), nullable=False, default="public", server_default="public"
    )


class ContestInvitation(Base):
    """A user invited to a private contest (who may enter it and join its room)."""

    __tablename__ = "contest_invitations"

    contest_id: Mapped[int] = mapped_column(
        ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ContestEntry(Base):
    """An entrant's score in a contest: what it moved of the metric inside the live window."""

    __tablename__ = "contest_entries"
    __table_args__ = (
        Index("ix_contest_entries_standings", "contest_id", "value", "reached_at", "user_id"),
    )

    contest_id: Mapped[int] = mapped_column(
        ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    value: Mapped[float] = mapped_column(Float, nullable=False, default=0)
    # When `value` was reached (ties: who got there first ranks higher).
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
