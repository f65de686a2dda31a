"""Gaps of the Redis copy: a deleted user leaves it at once, and two nodes rebuilding one board
at the same moment never lose a write made in between. On a real Redis and both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from accolade.domain.boards import Board, EntryChange
from accolade.leaderboard.redis import RedisLeaderboard
from accolade.storage import users as users_repo
from accolade.storage.models import utcnow
from tests.leaderboard.test_stores import REDIS_URL, record, redis_store  # noqa: F401

ALL_TIME = Board("calls", "all", "all")


async def internal_id(app: Any, user_id: Any) -> int:
    async with app.state.services.database.transaction() as session:
        user = await users_repo.get(session, user_id)
    assert user is not None
    return user.id


async def test_deleted_user_leaves_the_redis_copy_at_once(app, client, service, redis_store):  # noqa: F811
    await record(client, service, [(1, "calls", 10), (2, "calls", 30), (3, "calls", 20)])
    await app.state.services.leaderboards.settled()
    zkey = redis_store._keys(ALL_TIME)[0]
    assert await redis_store.client.zcard(zkey) == 3
    gone = await internal_id(app, 2)
    assert (await client.delete("/api/users/2", headers=service)).status_code == 200
    assert await redis_store.client.zcard(zkey) == 2
    assert [(s.rank, s.user_id) for s in await redis_store.top(ALL_TIME, 10)] == [
        (1, await internal_id(app, 3)),
        (2, await internal_id(app, 1)),
    ]
    assert await redis_store.standing(ALL_TIME, gone) is None
    board = (await client.get("/api/leaderboards/calls", params={"limit": 2})).json()
    assert [(e["rank"], e["userId"]) for e in board] == [(1, 3), (2, 1)]


async def test_a_write_of_a_deleted_user_landing_late_does_not_bring_it_back(
    app,
    client,
    service,
    redis_store,  # noqa: F811
):
    await record(client, service, [(1, "calls", 10), (2, "calls", 30)])
    await app.state.services.leaderboards.settled()
    gone = await internal_id(app, 2)
    assert (await client.delete("/api/users/2", headers=service)).status_code == 200
    # A write committed before the deletion, reaching Redis after it (writes follow commits).
    await redis_store.apply([EntryChange(ALL_TIME, gone, 31.0, utcnow())])
    assert [s.user_id for s in await redis_store.top(ALL_TIME, 10)] == [await internal_id(app, 1)]


class PausedNode(RedisLeaderboard):
    """Another node's store whose first rebuild stops right after it read the rows (its
    transaction closed), until released."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read, self.release = asyncio.Event(), asyncio.Event()

    async def _board_rows(self, board: Board) -> list[tuple[int, float, datetime]]:
        found = await super()._board_rows(board)
        if not self.read.is_set():
            self.read.set()
            await self.release.wait()
        return found


@asynccontextmanager
async def another_node_rebuilding(app: Any, store: Any) -> AsyncIterator[None]:
    """Another node (a store on the same Redis keys and database) rebuilds the all-time board:
    the block runs after it read the rows and before it puts its copy in place."""
    other_node = PausedNode(REDIS_URL, app.state.services.database, key_prefix=store.key_prefix)
    try:
        rebuilding = asyncio.create_task(other_node.rebuild(ALL_TIME))
        await asyncio.wait_for(other_node.read.wait(), 10)
        yield
        other_node.release.set()
        await asyncio.wait_for(rebuilding, 10)
    finally:
        other_node.release.set()
        await other_node.close()


async def test_two_nodes_rebuilding_one_board_at_once_keep_a_write_made_in_between(
    app,
    client,
    service,
    redis_store,  # noqa: F811
):
    await record(client, service, [(1, "calls", 10), (2, "calls", 20)])
    leaderboards = app.state.services.leaderboards
    await leaderboards.settled()
    # Node A (another store on the same Redis keys and database) starts a rebuild and reads
    # the rows; then user 3's event commits on node B (the app), whose write finds the copy
    # being rebuilt and rebuilds it too, with the new row; then A's rebuild ends, last.
    async with another_node_rebuilding(app, redis_store):
        await record(client, service, [(3, "calls", 50)])
        await leaderboards.settled()
    board = (await client.get("/api/leaderboards/calls")).json()
    assert [(e["userId"], e["value"]) for e in board] == [(3, 50), (2, 20), (1, 10)]
    assert [s.value for s in await redis_store.top(ALL_TIME, 10)] == [50, 20, 10]


async def test_a_rebuild_under_way_when_a_user_is_deleted_does_not_bring_it_back(
    app,
    client,
    service,
    redis_store,  # noqa: F811
):
    await record(client, service, [(1, "calls", 10), (2, "calls", 30)])
    leaderboards = app.state.services.leaderboards
    await leaderboards.settled()
    async with another_node_rebuilding(app, redis_store):  # it has read user 2's row
        assert (await client.delete("/api/users/2", headers=service)).status_code == 200
    board = (await client.get("/api/leaderboards/calls")).json()
    assert [(e["rank"], e["userId"]) for e in board] == [(1, 1)]
    assert [s.value for s in await redis_store.top(ALL_TIME, 10)] == [10]


async def test_a_rebuild_over_a_copy_with_a_deleted_user_leaves_it_out(
    app,
    client,
    service,
    redis_store,  # noqa: F811
):
    await record(client, service, [(1, "calls", 10), (2, "calls", 30)])
    await app.state.services.leaderboards.settled()
    assert (await client.delete("/api/users/2", headers=service)).status_code == 200
    assert await redis_store.rebuild(ALL_TIME) == 1
    assert [s.value for s in await redis_store.top(ALL_TIME, 10)] == [10]
