"""A room event as it travels from the relay over the bus to each node's gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accolade.domain.wire import iso


@dataclass(frozen=True, slots=True)
class RoomMessage:
    seq: int  # the catch-up id: rises with commit order across all nodes
    room: str
    event: str
    payload: dict[str, Any]
    created_at: datetime
    namespace: str | None = None  # None: every namespace that carries `event`

    @property
    def timestamp(self) -> str:
        return iso(self.created_at)

    def data(self) -> dict[str, Any]:
        """The payload clients receive: the event's own fields plus its `eventId`."""
        return {**self.payload, "eventId": self.seq}

    def to_wire(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "room": self.room,
            "event": self.event,
            "payload": self.payload,
            "createdAt": self.timestamp,
            "namespace": self.namespace,
        }

    @classmethod
    def from_wire(cls, item: dict[str, Any]) -> RoomMessage:
        return cls(
            seq=int(item["seq"]),
            room=str(item["room"]),
            event=str(item["event"]),
            payload=dict(item["payload"]),
            created_at=datetime.fromisoformat(item["createdAt"].replace("Z", "+00:00")),
            namespace=item.get("namespace"),
        )


def encode_batch(messages: list[RoomMessage]) -> bytes:
    return json.dumps([m.to_wire() for m in messages], separators=(",", ":")).encode()


def decode_batch(raw: bytes) -> list[RoomMessage]:
    return [RoomMessage.from_wire(item) for item in json.loads(raw)]
