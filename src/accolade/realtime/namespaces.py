"""Which events each namespace delivers: the table of `domain.notices`, by namespace."""

from __future__ import annotations

from accolade.bus.messages import RoomMessage
from accolade.domain import notices, rooms

# The namespace names, and what each carries, are the notices' own (`domain.notices`).
LEADERBOARD = notices.LEADERBOARD
TRAINING = notices.TRAINING
ROOT = notices.ROOT
GAME_EVENTS = notices.GAME_EVENTS

EVENTS: dict[str, frozenset[str]] = {ns: notices.carried_by(ns) for ns in notices.NAMESPACES}


def carries(namespace: str, message: RoomMessage) -> bool:
    """Does `namespace` deliver this room event to the room's members?"""
    if message.namespace is not None:
        return message.namespace == namespace
    if namespace == GAME_EVENTS:
        return rooms.is_user_room(message.room)
    return message.event in EVENTS.get(namespace, frozenset())
