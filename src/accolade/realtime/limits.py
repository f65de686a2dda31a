"""What one client may ask of a node: messages a second per connection, connections per node.

Both transports apply the same rules. A connection that sends more than `max_events_per_s`
messages within one second has the excess dropped and is told once that second (`error {code:
"rate_limited"}`); one still doing so `FLOOD_SECONDS` seconds in a row is closed (plain
WebSocket: 1008 policy violation; Socket.IO: disconnected by the server). A node holding
`max_connections` connections refuses new ones at the handshake (plain WebSocket: `error {code:
"too_many_connections"}` then close 1013; Socket.IO: `connect_error`); connections it already
holds, and HTTP, are untouched.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

RATE_LIMITED = "rate_limited"
TOO_MANY_CONNECTIONS = "too_many_connections"
# Consecutive seconds over the limit after which a connection is closed instead of throttled.
FLOOD_SECONDS = 5
FLOOD_CLOSE_CODE = 1008  # policy violation
FLOOD_CLOSE_REASON = "rate limited: too many messages"
FULL_CLOSE_CODE = 1013  # try again later
FULL_CLOSE_REASON = "too many connections: try again later"


class Verdict(enum.Enum):
    ADMIT = "admit"
    TELL = "tell"  # drop it, and say so (once a second)
    DROP = "drop"  # drop it silently: already told this second
    CLOSE = "close"  # it keeps flooding: say so and close the connection


class EmitRate:
    """One connection's messages in the current second (fixed one-second windows)."""

    __slots__ = ("_count", "_limit", "_over", "_strikes", "_told", "_window")

    def __init__(self, limit_per_s: int) -> None:
        self._limit = limit_per_s
        self._window = -1
        self._count = 0
        self._over = False  # the current window went over the limit
        self._told = False
        self._strikes = 0  # consecutive windows over the limit, this one included

    def check(self, now_s: float) -> Verdict:
        """Count one message received at `now_s` (monotonic seconds) and say what to do."""
        window = int(now_s)
        if window != self._window:
            if not (self._over and window == self._window + 1):
                self._strikes = 0  # a quiet second in between: the flood is over
            self._window, self._count, self._over, self._told = window, 0, False, False
        self._count += 1
        if self._count <= self._limit:
            return Verdict.ADMIT
        if not self._over:
            self._over = True
            self._strikes += 1
        if self._strikes >= FLOOD_SECONDS:
            return Verdict.CLOSE
        if self._told:
            return Verdict.DROP
        self._told = True
        return Verdict.TELL


@dataclass
class ClientLimits:
    """The node's limits, shared by both transports. `0` means no limit."""

    max_events_per_s: int = 0
    max_connections: int = 0
    connections: int = field(default=0, init=False)

    def rate(self) -> EmitRate | None:
        """A new connection's message counter (None: no rate limit)."""
        return EmitRate(self.max_events_per_s) if self.max_events_per_s else None

    def admit_connection(self) -> bool:
        """Count a new connection in; False (and nothing counted) when the node is full."""
        if self.max_connections and self.connections >= self.max_connections:
            return False
        self.connections += 1
        return True

    def connection_closed(self) -> None:
        """A connection admitted by `admit_connection` is gone."""
        self.connections = max(0, self.connections - 1)

    def rate_limited_error(self, closing: bool) -> dict[str, Any]:
        """The `error` event's payload for a connection over its rate."""
        message = (
            f"more than {self.max_events_per_s} messages a second: the excess is dropped"
            if not closing
            else f"more than {self.max_events_per_s} messages a second for {FLOOD_SECONDS} "
            "seconds in a row: the connection is closed"
        )
        return {"code": RATE_LIMITED, "message": message}

    def full_error(self) -> dict[str, Any]:
        """The refusal sent to a connection beyond `max_connections`."""
        return {
            "code": TOO_MANY_CONNECTIONS,
            "message": f"this node is at its real-time connection limit ({self.max_connections});"
            " try again later (or another node)",
        }
