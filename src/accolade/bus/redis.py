"""Redis pub/sub between nodes: every node subscribes to one channel and handles what arrives.
A batch travels as one JSON message (`bus.messages`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from accolade.bus.base import MessageHandler
from accolade.bus.messages import RoomMessage, decode_batch, encode_batch

log = logging.getLogger("accolade.bus")
CHANNEL = "accolade:room-events"


def channel_for(scope: str) -> str:
    """The channel of one cluster (its id from the database), so that two installations sharing
    a Redis server never hear each other's events."""
    return f"accolade:{scope}:room-events" if scope else CHANNEL


class RedisBus:
    def __init__(self, url: str, channel: str | None = None) -> None:
        self.url = url
        self.channel = channel or CHANNEL
        self._channel_given = channel is not None
        self._client: aioredis.Redis = aioredis.Redis.from_url(url)
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._handler: MessageHandler | None = None
        # Called once subscribed again after a disconnect: what was published meanwhile reached
        # nobody here (pub/sub keeps nothing), so the gateway reads it back (`Gateway.catch_up`).
        self.on_resubscribed: Callable[[], Awaitable[None]] | None = None

    async def start(self, handler: MessageHandler, scope: str = "") -> None:
        if not self._channel_given:
            self.channel = channel_for(scope)
        await self._client.ping()  # fail start-up loudly if Redis is not there
        self._handler = handler
        self._listener = asyncio.create_task(self._listen(handler), name="redis-bus-listener")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _listen(self, handler: MessageHandler) -> None:
        # Reconnects with backoff: a Redis restart loses in-flight messages, which catch-up by id
        # recovers for clients; the listener itself must never die.
        delay_s = 0.1
        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    if self._subscribed.is_set() and self.on_resubscribed is not None:
                        log.info("redis bus subscribed again; catching up")
                        try:
                            await self.on_resubscribed()
                        except Exception:
                            log.exception("catching up after the redis bus came back failed")
                    self._subscribed.set()
                    delay_s = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            await handler(decode_batch(message["data"]))
                        except Exception:
                            log.exception("bus handler failed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis bus disconnected (%s); retrying in %.1fs", exc, delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)

    async def publish(self, messages: list[RoomMessage]) -> None:
        try:
            await self._client.publish(self.channel, encode_batch(messages))
        except Exception:
            # Redis is away: this node's own clients still get the batch now. The error goes on
            # to the relay, which keeps its watermark and publishes the batch again later for the
            # other nodes; this node's gateway skips the ids it delivered already.
            if self._handler is not None:
                try:
                    await self._handler(messages)
                except Exception:
                    log.exception("local delivery while the redis bus is away failed")
            raise

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()
