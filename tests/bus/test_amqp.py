"""With ACCOLADE_AMQP_URL set, domain events also reach RabbitMQ's `gamification` exchange."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest

from accolade.app import create_app
from accolade.config import Settings
from tests.conftest import unavailable

AMQP_URL = os.environ.get("ACCOLADE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture
async def analytics_queue() -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A private queue bound to every routing key of the exchange, as an analytics consumer."""
    try:
        connection = await asyncio.wait_for(aio_pika.connect(AMQP_URL), timeout=5)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        unavailable(f"RabbitMQ at {AMQP_URL} is unreachable: {exc}")
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            "gamification", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")
        yield queue


async def test_domain_events_are_published_to_the_gamification_exchange(
    settings: Settings, service: dict[str, str], analytics_queue: aio_pika.abc.AbstractQueue
) -> None:
    app = create_app(Settings(**{**settings.model_dump(), "amqp_url": AMQP_URL}, _env_file=None))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://x", headers=service
        ) as c:
            await c.post(
                "/api/achievements",
                json={
                    "name": "First Deal",
                    "requirements": [{"metric": "deal", "operator": "gte", "threshold": 1}],
                },
            )
            response = await c.post("/api/events", json={"userId": "amqp-1", "type": "deal"})
            assert response.status_code == 201
            received: dict[str, dict[str, object]] = {}
            async with asyncio.timeout(10):
                async with analytics_queue.iterator() as messages:
                    async for message in messages:
                        async with message.process():
                            body = json.loads(message.body)
                            if body["userId"] == "amqp-1":
                                received[message.routing_key or ""] = body
                        if "achievement.earned" in received:
                            break
    earned = received["achievement.earned"]
    assert earned["type"] == "achievement:earned"
    assert isinstance(earned["id"], int)
    assert earned["data"]["title"] == "🏅 First Deal Badge Earned!"  # type: ignore[index]
