"""Domain events to RabbitMQ for analytics consumers (seed 002: topic exchange `gamification`).

Fed by the relay after each batch is published, so it sees exactly the committed events. Each
fact goes out once, from its user's room (a celebration's TV copy is not repeated), with the
event name as routing key, `:` and `-` becoming `.` (`achievement.earned`, `xp.gained`).
Analytics is best effort: a broker outage is logged and never holds up the screens.
"""

from __future__ import annotations

import json
import logging

import aio_pika

from accolade.bus.messages import RoomMessage
from accolade.domain import rooms

log = logging.getLogger("accolade.amqp")
EXCHANGE = "gamification"


def routing_key(event: str) -> str:
    return event.replace(":", ".").replace("-", ".")


class AmqpPublisher:
    def __init__(self, url: str, exchange: str = EXCHANGE) -> None:
        self.url = url
        self.exchange_name = exchange
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.url)
        channel = await self._connection.channel()
        self._exchange = await channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def publish(self, messages: list[RoomMessage]) -> None:
        if self._exchange is None:
            return
        for message in messages:
            if message.namespace is not None or not rooms.is_user_room(message.room):
                continue
            body = json.dumps(
                {
                    "id": message.seq,
                    "type": message.event,
                    "userId": message.payload.get("userId"),
                    "data": message.payload,
                    "timestamp": message.timestamp,
                },
                separators=(",", ":"),
            ).encode()
            try:
                await self._exchange.publish(
                    aio_pika.Message(
                        body,
                        content_type="application/json",
                        message_id=str(message.seq),
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=routing_key(message.event),
                )
            except Exception as exc:
                log.warning("could not publish event %s to AMQP: %s", message.seq, exc)
                return

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
