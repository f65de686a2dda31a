"""Helpers for engine tests: send events, define achievements, read what was queued."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from accolade.storage.models import RoomEvent


class Engine:
    def __init__(self, client: Any, headers: dict[str, str], app: Any) -> None:
        self.client = client
        self.headers = headers
        self.app = app

    async def event(self, user_id: Any = 1, type: str = "deal", **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/events", json={"userId": user_id, "type": type, **fields}, headers=self.headers
        )
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    async def achievement(
        self, name: str, *requirements: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/api/achievements",
            json={"name": name, "requirements": list(requirements), **fields},
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def room_events(self, room: str, event: str | None = None) -> list[RoomEvent]:
        async with self.app.state.services.database.transaction() as session:
            query = select(RoomEvent).where(RoomEvent.room == room).order_by(RoomEvent.id)
            if event is not None:
                query = query.where(RoomEvent.event == event)
            return list((await session.scalars(query)).all())

    async def unlocked(self, user_id: Any) -> list[int]:
        response = await self.client.get(
            "/api/users/achievements/progress/list",
            params={"userId": user_id, "unlockedOnly": "true"},
            headers=self.headers,
        )
        return [row["achievementId"] for row in response.json()]


@pytest.fixture
def engine(client: Any, service: dict[str, str], app: Any) -> Engine:
    return Engine(client, service, app)


def rule(metric: str, operator: str, threshold: float, **timeframe: Any) -> dict[str, Any]:
    requirement: dict[str, Any] = {"metric": metric, "operator": operator, "threshold": threshold}
    if timeframe:
        requirement["timeframe"] = timeframe
    return requirement
