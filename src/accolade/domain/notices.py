"""Every real-time event the server sends, defined once: its name, the Socket.IO namespaces
that carry it (the contract's "Real time" section), and the payload fields it always has.

A notice called with keywords builds its payload (`XP_GAINED(user_id=7, amount=50, ...)`): the
one place where names become camelCase and moments ISO 8601. Services and the pipeline queue it
for a room (`storage.outbox.add_room_event`); the real-time side delivers it on the namespaces
named here, and `/game-events` (plain WebSocket) carries everything addressed to the token's
own user room. The payloads follow the seeds:
`AchievementEvent` (seed 000) on `achievement:*`, `RankingUpdate`, `XPGainEvent` and
`LevelUpEvent` (seed 001); extra fields are allowed, the listed ones are always there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accolade.domain import wire

LEADERBOARD = "/leaderboard"
TRAINING = "/training"
ROOT = "/"  # seed 003's clients
GAME_EVENTS = "/game-events"  # plain WebSocket only: everything addressed to the token's user

NAMESPACES = (LEADERBOARD, TRAINING, ROOT)


@dataclass(frozen=True, slots=True)
class Notice:
    name: str
    namespaces: frozenset[str]
    fields: frozenset[str] = frozenset()

    def missing(self, payload: dict[str, object]) -> frozenset[str]:
        """The fields this notice always has that `payload` lacks."""
        return self.fields - payload.keys()

    def __call__(self, **values: Any) -> dict[str, Any]:
        """This notice's payload as it goes on the wire, the one place payloads are spelled:
        each keyword in camelCase (`user_name=` -> `userName`, `wire.camel`), its value as JSON
        shows it (moments in ISO 8601 UTC, `wire.encode`), `timestamp` now unless given.
        Refuses (ValueError) a payload that lacks a field the notice promises."""
        payload = {wire.camel(name): wire.encode(value) for name, value in values.items()}
        payload.setdefault("timestamp", wire.now_iso())
        if lacking := self.missing(payload):
            raise ValueError(f"{self.name} lacks {sorted(lacking)}")
        return payload


def _notice(name: str, namespaces: tuple[str, ...], fields: str = "") -> Notice:
    return Notice(name, frozenset(namespaces), frozenset(fields.split()))


# `rarityPercent` and `first`: a badge's rarity after this unlock and its first unlock ever (None
# and False on the other celebrations).
_ACHIEVEMENT = "userId userName achievementType title description rarityPercent first timestamp"
_RANKING = "userId userName previousRank newRank metric value timestamp"
_LEVEL_UP = "userId userName previousLevel newLevel totalXP timestamp"
_STANDINGS = "contestId name metric userId userName previousRank newRank value timestamp"
_STATUS = "contestId name metric status previousStatus startedAt endedAt timestamp"
_ENDED = "contestId name metric endedAt leaderboard timestamp"

# /leaderboard: the TV, the team and contest screens, a rep's rank.
ACHIEVEMENT_CELEBRATION = _notice("achievement:celebration", (LEADERBOARD,), _ACHIEVEMENT)
ACHIEVEMENT_EARNED = _notice("achievement:earned", (LEADERBOARD, ROOT), _ACHIEVEMENT)
ACHIEVEMENT_REVOKED = _notice(
    "achievement:revoked",
    (LEADERBOARD,),
    "userId userName achievementId achievementType title reason timestamp",
)
RANKINGS_UPDATE = _notice("rankings:update", (LEADERBOARD,), _RANKING)
LEADERBOARD_REFRESH = _notice("leaderboard:refresh", (LEADERBOARD,), "metric periodKeys timestamp")
CONTEST_ENTRY = _notice(
    "contest:entry", (LEADERBOARD,), "contestId name userId userName entrants timestamp"
)
CONTEST_UPDATE = _notice("contest:update", (LEADERBOARD,), _STANDINGS)
CONTEST_STATUS = _notice("contest:status", (LEADERBOARD,), _STATUS)
CONTEST_ENDED = _notice("contest:ended", (LEADERBOARD, ROOT), _ENDED)

# /training: the learner's own screen.
XP_GAINED = _notice(
    "xp:gained", (TRAINING,), "userId userName amount source newTotal level timestamp"
)
LEVEL_UP = _notice("level:up", (TRAINING,), _LEVEL_UP)
STREAK_UPDATE = _notice(
    "streak:update", (TRAINING,), "userId userName currentStreak bestStreak reset timestamp"
)
QUIZ_COMPLETED = _notice(
    "quiz:completed", (TRAINING,), "userId quizId score maxScore xp perfect timestamp"
)
PROGRESS_UPDATE = _notice("progress:update", (TRAINING,), "userId achievements timestamp")
ACHIEVEMENT_UNLOCKED = _notice("achievement:unlocked", (TRAINING,), _ACHIEVEMENT)
QUEST_PROGRESS = _notice(
    "quest:progress", (TRAINING,), "questId userId status title progress timestamp"
)
ROLEPLAY_TYPING = _notice("roleplay:typing", (TRAINING,), "userId sessionId typing timestamp")
ROLEPLAY_CHUNK = _notice("roleplay:chunk", (TRAINING,), "userId sessionId index text timestamp")
ROLEPLAY_RESPONSE = _notice("roleplay:response", (TRAINING,), "userId sessionId message timestamp")

# /: seed 003's clients, in its own words.
PLAYER_LEVEL_UP = _notice("player:level-up", (ROOT,), _LEVEL_UP)
PLAYER_TIER_UPGRADE = _notice(
    "player:tier-upgrade", (ROOT,), "userId userName previousTier newTier level timestamp"
)
PLAYER_RANK_CHANGE = _notice("player:rank-change", (ROOT,), _RANKING)
CONTEST_STATUS_CHANGED = _notice(
    "contest:status-changed", (ROOT,), _STATUS + " oldStatus newStatus"
)
LEADERBOARD_UPDATE = _notice("leaderboard:update", (ROOT,), _STANDINGS)
PROBLEM_SOLVED = _notice(
    "problem:solved", (ROOT,), "userId userName problemId contestId xp timestamp"
)
NOTIFICATION = _notice("notification", (ROOT,), "id type title body userId timestamp")

# What the server answers one client with, outside any room (Socket.IO emits to that sid).
REPLIES = frozenset({"joined", "left", "error", "heartbeat", "notification:read"})

ALL: tuple[Notice, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Notice))
BY_NAME: dict[str, Notice] = {notice.name: notice for notice in ALL}


def carried_by(namespace: str) -> frozenset[str]:
    """The names of the notices `namespace` delivers to a room's members."""
    return frozenset(n.name for n in ALL if namespace in n.namespaces)


def custom(name: str, namespace: str) -> Notice:
    """An event an admin sends by hand (`POST /api/admin/broadcast`) on one namespace."""
    return Notice(name, frozenset({namespace}))
