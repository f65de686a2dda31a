"""A connection's way out on the fast path: pre-built frames written straight to its transport.

A room event is framed once (`frames`) and the same bytes go to every member's asyncio transport:
no ASGI `send`, no queue and no task per recipient. Every frame the server sends to a fast-path
connection, broadcasts and direct answers alike, goes through its `Link`, so one connection's
frames leave in the order they were written; those written in one event-loop iteration leave
together, in one `transport.write` at its end.

A member that stops reading cannot grow the server's memory: when more frames come for it while
its transport still holds more than `limit_bytes` unsent, they are dropped, it gets its
farewell frames and is closed (aborted after a grace period if it still does not read them). It
catches up by id when it comes back. What one connection may hold is thus bounded by the limit
plus one loop iteration's frames (at most one relay batch).

Links are opened by `uvicorn_protocol.open_link`, only for connections whose server writes its
handshake and frames whole and synchronously (so our writes cannot land inside one of its own).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterable

from accolade.realtime.fastpath import frames

log = logging.getLogger("accolade.fastpath")

TOO_SLOW_CODE = 1013  # "try again later"
TOO_SLOW_REASON = "too slow: catch up by id"
# After the farewell frames, a cut connection has this long to read them before it is aborted.
CUT_GRACE_S = 5.0


class _Tick:
    """The links written to during one event-loop iteration, flushed together at its end.

    A relay batch (say 100 events) reaches every member within one iteration; coalescing turns
    100 `send()` calls per member into one, which is where the fan-out time went.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.dirty: list[Link] = []

    def add(self, link: Link) -> None:
        if not self.dirty:
            self.loop.call_soon(self.flush)
        self.dirty.append(link)

    def flush(self) -> None:
        dirty, self.dirty = self.dirty, []
        for link in dirty:
            try:
                link.flush()
            except Exception:  # one broken connection must not cost the others their frames
                log.exception("writing to a connection failed; closing it")
                link.abort()


_ticks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Tick] = weakref.WeakKeyDictionary()


def _tick() -> _Tick:
    loop = asyncio.get_running_loop()
    tick = _ticks.get(loop)
    if tick is None:
        tick = _ticks[loop] = _Tick(loop)
    return tick


class Link:
    """One connection's way out on the fast path: complete frames, sent in call order.

    Frames written during one loop iteration leave together in one transport write at its end.
    """

    __slots__ = (
        "_farewell",
        "_limit_bytes",
        "_pending",
        "_tick",
        "_transport",
        "closed",
        "cut_off",
    )

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        limit_bytes: int,
        farewell: Callable[[], Iterable[bytes]] | None = None,
    ) -> None:
        self._transport = transport
        self._limit_bytes = limit_bytes
        self._farewell = farewell
        self._tick = _tick()
        self._pending: list[bytes] | None = None
        self.closed = False
        self.cut_off = False

    @property
    def transport(self) -> asyncio.WriteTransport:
        return self._transport

    def write(self, frame: bytes) -> None:
        """Queue one frame for the end of this loop iteration.

        A connection whose transport still holds more than `limit_bytes` from earlier iterations
        when more arrives has stopped reading: it is cut off instead. (A burst within one
        iteration is not held against it: the reader cannot have run yet.)
        """
        if self.closed:
            return
        pending = self._pending
        if pending is None:
            if self._transport.get_write_buffer_size() > self._limit_bytes:
                self.cut()
                return
            self._pending = [frame]
            self._tick.add(self)
            return
        pending.append(frame)

    def flush(self) -> None:
        """Write what this loop iteration queued, in one transport write."""
        pending, self._pending = self._pending, None
        if pending is None or self.closed:
            return
        transport = self._transport
        if transport.is_closing():
            self.closed = True
            return
        transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self, last_frame: bytes | None = None) -> None:
        """Send what is queued and `last_frame` (a close frame), then close once it is out."""
        if self.closed:
            return
        self.closed = True
        pending, self._pending = self._pending or [], None
        transport = self._transport
        if transport.is_closing():
            return
        if last_frame is not None:
            pending.append(last_frame)
        if pending:
            transport.write(b"".join(pending))
        transport.close()
        # A peer that never reads would keep the buffer forever: abort after a grace period.
        self._tick.loop.call_later(CUT_GRACE_S, transport.abort)

    def abort(self) -> None:
        """Drop the connection at once, with whatever it still had to send."""
        self.closed = True
        self._pending = None
        self._transport.abort()

    def cut(self) -> None:
        """Cut a member that stopped reading: after what its transport holds, the farewell frames
        and close 1013 (aborted if it does not read them in time); it catches up by id."""
        if self.closed:
            return
        self.cut_off = True
        log.warning(
            "cutting off a connection that stopped reading: %d bytes unsent (limit %d)",
            self._transport.get_write_buffer_size(),
            self._limit_bytes,
        )
        farewell = list(self._farewell()) if self._farewell is not None else []
        farewell.append(frames.close_frame(TOO_SLOW_CODE, TOO_SLOW_REASON))
        self._pending = farewell
        self.close()
