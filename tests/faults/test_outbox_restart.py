"""Killed between commit and publish: after a restart the celebration still arrives, once."""

from __future__ import annotations

import asyncio
import json
import signal

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.test_cli import printed_token, serving_process


@pytest.mark.live
async def test_celebration_committed_before_a_crash_arrives_once_after_restart(tmp_path, free_port):
    database_url = f"sqlite:///{tmp_path / 'accolade.db'}"
    # A node that commits but never publishes: the state of a process killed right after commit.
    with serving_process(
        tmp_path, free_port, "--database-url", database_url, env={"ACCOLADE_RELAY_ENABLED": "false"}
    ) as (base, lines, process):
        headers = {"Authorization": f"Bearer {printed_token(lines)}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as client:
            rule = {"metric": "deal", "operator": "gte", "threshold": 1}
            created = await client.post(
                "/api/achievements", json={"name": "Survivor", "requirements": [rule]}
            )
            assert created.status_code == 201
            answer = await client.post("/api/events", json={"userId": 1, "type": "deal"})
            assert answer.json()["unlocked"][0]["name"] == "Survivor"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    with serving_process(tmp_path, free_port, "--database-url", database_url) as (base, _, _):
        ws_base = base.replace("http://", "ws://")
        async with connect(f"{ws_base}/leaderboard") as ws:
            await ws.send(json.dumps({"type": "join:tv-display", "since": 0}))
            async with asyncio.timeout(10):  # joined first, then what was missed
                frames = [json.loads(await ws.recv())]
                assert frames[0]["type"] == "joined"
                for _ in range(frames[0]["data"]["replayed"]):
                    frames.append(json.loads(await ws.recv()))
            await asyncio.sleep(0.5)  # nothing more may follow: it arrived once
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    frames.append(json.loads(await ws.recv()))
    assert frames[0]["data"]["recovered"] is True
    celebrations = [f for f in frames if f["type"] == "achievement:celebration"]
    assert [c["data"]["title"] for c in celebrations] == ["🏅 Survivor Badge Earned!"]
