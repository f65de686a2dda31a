"""Which events each namespace carries (the contract's "Real time" section), and room names."""

from __future__ import annotations

from accolade.bus.messages import RoomMessage

LEADERBOARD = "/leaderboard"
TRAINING = "/training"
ROOT = "/"
GAME_EVENTS = "/game-events"  # plain WebSocket only: everything addressed to the token's user

EVENTS: dict[str, frozenset[str]] = {
    LEADERBOARD: frozenset(
        {
            "achievement:celebration",
            "achievement:earned",
            "rankings:update",
            "leaderboard:refresh",
            "contest:entry",
            "contest:update",
            "contest:status",
            "contest:ended",
        }
    ),
    TRAINING: frozenset(
        {
            "xp:gained",
            "level:up",
            "streak:update",
            "quiz:completed",
            "progress:update",
            "achievement:unlocked",
            "roleplay:typing",
            "roleplay:chunk",
            "roleplay:response",
        }
    ),
    ROOT: frozenset(
        {
            "player:level-up",
            "player:tier-upgrade",
            "player:rank-change",
            "achievement:earned",
            "contest:status-changed",
            "contest:ended",
            "leaderboard:update",
            "problem:solved",
            "notification",
        }
    ),
}


def carries(namespace: str, message: RoomMessage) -> bool:
    """Does `namespace` deliver this room event to the room's members?"""
    if message.namespace is not None:
        return message.namespace == namespace
    if namespace == GAME_EVENTS:
        return message.room.startswith("user:")
    return message.event in EVENTS.get(namespace, frozenset())
