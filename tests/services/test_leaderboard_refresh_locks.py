"""The TV's refresh throttle rows are taken at the commit, every board in one order: two
transactions moving the same boards in opposite orders both commit (asked event by event, they
locked the rows crosswise and PostgreSQL failed one of them as a deadlock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from accolade.storage import metrics
from accolade.storage import users as users_repo


@pytest.mark.backends("postgresql")  # SQLite runs one writing transaction at a time
async def test_opposite_board_orders_in_two_transactions_both_commit(app, client, service):
    for user_id, metric in ((1, "alpha"), (2, "beta")):
        response = await client.post(
            "/api/events", json={"userId": user_id, "type": metric}, headers=service
        )
        assert response.status_code == 201, response.text
    services = app.state.services
    # Every slot due again: each move claims its board's refresh in the database.
    later = datetime.now(UTC) + timedelta(hours=1)
    services.leaderboards.clock = lambda: later
    both_moved_once = asyncio.Barrier(2)

    async def move(user_id: int, order: list[str]) -> None:
        async with services.database.transaction() as session:
            user = await users_repo.get(session, user_id)
            assert user is not None
            await metrics.lock_stats(session, user)
            for position, metric in enumerate(order):
                await services.leaderboards.metrics_moved(session, user, {metric: 1.0}, later)
                if position == 0:
                    await both_moved_once.wait()

    await asyncio.wait_for(
        asyncio.gather(move(1, ["alpha", "beta"]), move(2, ["beta", "alpha"])), 30
    )
    expected = {"alpha": [(1, 2), (2, 1)], "beta": [(1, 1), (2, 2)]}
    for metric, entries in expected.items():
        board = await client.get(f"/api/leaderboards/{metric}", headers=service)
        assert board.status_code == 200, board.text
        assert sorted((e["userId"], e["value"]) for e in board.json()) == entries
