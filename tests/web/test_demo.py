"""Demo mode: a simulated team that goes through the real services and fills the screens."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from playwright.async_api import expect

from accolade.pipeline.commands import EventCommand
from accolade.services.demo import ACHIEVEMENTS, TEAM, DemoContests, DemoTeam, streak_backfill
from tests.realtime.conftest import start_server, stop_server
from tests.web.conftest import Screen, web_settings


async def test_demo_defines_its_achievements_once(app: FastAPI, client, admin) -> None:
    services = app.state.services
    demo = DemoTeam(services.engine.ingest, services.achievements, interval_s=60)
    assert await demo.define_achievements() == len(ACHIEVEMENTS)
    assert await demo.define_achievements() == 0  # a restart defines nothing twice
    listed = (await client.get("/api/achievements", headers=admin)).json()
    keys = sorted(a["key"] for a in listed if (a["key"] or "").startswith("demo-"))
    assert keys == sorted(a["key"] for a in ACHIEVEMENTS)


async def test_demo_streaks_are_backfilled_once_through_the_engine(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    services = app.state.services
    now = datetime.now(UTC)
    user_id, name, days = TEAM[0]
    moves = [move for move in streak_backfill(now) if move.user_id == user_id]
    for _ in range(2):  # a restart on the same day changes nothing
        for move in moves:
            await services.engine.ingest(move)
    profile = (await client.get(f"/api/users/{user_id}/profile", headers=admin)).json()
    assert profile["userName"] == name
    assert profile["streak"]["current"] == days


async def test_demo_plays_one_contest_after_another(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    services = app.state.services
    contests = DemoContests(services.contests, length_s=60, break_s=5)
    now = datetime.now(UTC)

    async def listed() -> list[tuple[str, str, int]]:
        rows = (await client.get("/api/contests", headers=admin)).json()
        return sorted((c["name"], c["status"], c["entrants"]) for c in rows)

    await contests.step(now)
    assert await listed() == [("Demo Sprint #1", "LIVE", len(TEAM))]
    await services.engine.ingest(EventCommand("demo-3", "sale", 900.0, user_name="Chloé Durand"))
    await contests.step(now + timedelta(seconds=66))  # over: paid out (which ends it)
    assert await listed() == [("Demo Sprint #1", "ENDED", len(TEAM))]
    first = (await client.get("/api/contests", headers=admin)).json()[0]
    assert [(w["userId"], w["prize"]) for w in first["payout"]] == [("demo-3", "$500")]
    await contests.step(now + timedelta(seconds=68))  # a break between contests
    assert len(await listed()) == 1
    await contests.step(now + timedelta(seconds=72))
    assert await listed() == [
        ("Demo Sprint #1", "ENDED", len(TEAM)),
        ("Demo Sprint #2", "LIVE", len(TEAM)),
    ]


async def test_demo_mode_celebrates_on_the_tv_by_itself(tmp_path: Path, screen: Screen) -> None:
    live, server, task = await start_server(web_settings(tmp_path, demo=True, demo_interval_s=0.3))
    try:
        async with live.http() as anonymous:  # the TV's reads are public
            for _ in range(150):
                contests = (await anonymous.get("/api/contests?status=LIVE")).json()
                if contests:
                    break
                await asyncio.sleep(0.1)
        page = screen.page
        await page.goto(f"{live.url}/tv?cardSeconds=1")
        await expect(page.locator("#badge")).to_have_text("Live")
        # The back-filled streaks cross 7 and 14 days: the TV celebrates them, no one posted.
        await expect(page.locator("#recent")).to_contain_text("-Day Streak!")
        await expect(page.locator(".celebration")).to_have_count(1)
        await expect(page.locator("#board .board-row").first).to_be_visible()
        # The team plays a contest.
        await expect(page.locator("#contest-name")).to_have_text(re.compile(r"^Demo Sprint #\d+$"))
        await expect(page.locator("#contest-countdown")).to_have_text(re.compile(r"\d\d:\d\d$"))
        await screen.shot("tv-demo-1920x1080")
        # Asked for less motion, the cards come without confetti.
        await page.emulate_media(reduced_motion="reduce")
        await expect(page.locator(".celebration")).to_have_count(1)
        await expect(page.locator(".celebration .confetti")).to_have_count(0)
    finally:
        await stop_server(server, task)
