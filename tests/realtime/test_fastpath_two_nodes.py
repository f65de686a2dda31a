"""The fast path for events that arrive from another node through Redis.

Two `accolade serve` processes (as in test_two_nodes.py) on one PostgreSQL database: events
published on node A reach node B's members through the bus and leave B on the fast path, framed
exactly as python-socketio and the plain WebSocket envelope would frame them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.realtime.test_fastpath import (
    DATA,
    EVENT,
    NS,
    TV,
    RawSocketIO,
    expected_data,
    plain_join_tv,
    sio_frame,
)
from tests.realtime.test_two_nodes import (  # noqa: F401 - fixtures
    ADMIN,
    Node,
    cluster_database,
    nodes,
)

pytestmark = pytest.mark.live

TIMEOUT = 10.0


class NodeAsLive:
    """What RawSocketIO.connect needs from a server: its WebSocket URL."""

    def __init__(self, node: Node) -> None:
        self.ws_url = f"ws://127.0.0.1:{node.port}"


async def test_events_published_on_one_node_leave_the_other_framed_byte_for_byte(
    nodes: tuple[Node, Node],  # noqa: F811 - the fixture imported above
) -> None:
    a, b = nodes
    count = 20
    async with (
        RawSocketIO.connect(NodeAsLive(b)) as raw,  # type: ignore[arg-type]
        websockets.connect(f"ws://127.0.0.1:{b.port}/leaderboard") as plain,
    ):
        await raw.join_tv()
        await plain_join_tv(plain)
        body = {"namespace": NS, "room": TV, "event": EVENT, "data": DATA, "repeat": count}
        async with a.http() as http:
            response = await http.post("/api/admin/broadcast", json=body, headers=ADMIN)
        assert response.status_code == 202, response.text
        raw_frames = [await raw.recv() for _ in range(count)]
        plain_frames: list[dict[str, Any]] = [
            json.loads(await asyncio.wait_for(plain.recv(), TIMEOUT)) for _ in range(count)
        ]

    received = [json.loads(frame.partition(",")[2])[1] for frame in raw_frames]
    ids = [envelope["id"] for envelope in plain_frames]
    assert ids == list(range(received[0]["eventId"], received[0]["eventId"] + count))
    expected = [
        expected_data(event_id, seq, received[0]["sentAt"])
        for seq, event_id in enumerate(ids, start=1)
    ]
    # PostgreSQL (JSONB) keeps its own key order: the values must match, and each frame must be
    # exactly python-socketio's encoding of the value it carries.
    assert received == expected
    assert raw_frames == [sio_frame(NS, EVENT, data) for data in received]
    assert [envelope["data"] for envelope in plain_frames] == expected
