"""The TV display in a real browser: celebrations, the recent column, the top 10, the live
contest, the badge, and catch-up by id after the network drops and after a reload."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import expect

from accolade.domain.identity import Role
from tests.conftest import unused_port
from tests.realtime.conftest import LiveServer, stop_server
from tests.web.conftest import (
    LAPTOP_SIZE,
    Screen,
    add_achievement,
    bearer,
    post_event,
    start_on,
    web_settings,
)


async def test_tv_celebrates_live_and_catches_up_after_a_network_drop(
    site: LiveServer, host: httpx.AsyncClient, screen: Screen
) -> None:
    page = screen.page
    # Before the TV is switched on: it shows up in the recent column (history over REST).
    await post_event(host, userId="u-1", userName="Rosa Diaz", type="xp", value=1000)
    async with site.http(bearer("admin", Role.ADMIN)) as admin:
        await add_achievement(
            admin,
            name="Deal Maker",
            description="Closed a first deal",
            icon="🤝",
            rarity="rare",
            requirements=[{"metric": "sales", "operator": "gte", "threshold": 1}],
        )
        ends = datetime.now(UTC) + timedelta(minutes=10)
        contest = await admin.post(
            "/api/contests",
            json={"name": "Q4 Sales Challenge", "metric": "revenue", "endAt": ends.isoformat()},
        )
        assert contest.status_code == 201, contest.text
        contest_id = contest.json()["id"]
        live = await admin.patch(f"/api/contests/{contest_id}", json={"status": "LIVE"})
        assert live.status_code == 200, live.text
        entered = await admin.post(
            f"/api/contests/{contest_id}/enter", json={"userId": "u-2", "userName": "Sam Lee"}
        )
        assert entered.status_code in (200, 201), entered.text

    await page.goto(f"{site.url}/tv?cardSeconds=1")
    await expect(page.locator("#badge")).to_have_text("Live")
    await expect(page.locator("#recent")).to_contain_text("1,000 XP Milestone!")
    await expect(page.locator("#recent")).to_contain_text("Rosa Diaz")
    # The live contest counts down.
    await expect(page.locator("#contest-name")).to_have_text("Q4 Sales Challenge")
    countdown = page.locator("#contest-countdown")
    await expect(countdown).to_have_text(re.compile(r"^00:(09|10):\d\d$"))
    shown = await countdown.inner_text()
    await expect(countdown).not_to_have_text(shown)  # it ticks

    # Live: a sale unlocks an achievement, celebrated full screen, and the top 10 moves.
    response = await host.post(
        "/api/sales-reps/u-2/sales", json={"amount": 4200, "signups": 1, "userName": "Sam Lee"}
    )
    assert response.status_code in (200, 201), response.text
    card = page.locator(".celebration")
    await expect(card).to_contain_text("Deal Maker Badge Earned!")
    await expect(card).to_contain_text("Closed a first deal")
    await expect(page.locator("#board .board-row").first).to_contain_text("Sam Lee")
    await expect(page.locator("#board .board-row").first).to_contain_text("$4,200")
    await expect(page.locator("#contest-standings")).to_contain_text("Sam Lee")
    await expect(page.locator("#contest-standings")).to_contain_text("$4,200")
    await expect(page.locator("#announcer")).to_contain_text("Deal Maker Badge Earned!")
    await screen.shot("tv-celebration-1920x1080")

    # The network drops; what happens meanwhile arrives once it is back (catch-up by id).
    await screen.context.set_offline(True)
    await expect(page.locator("#badge")).to_have_text("Offline")
    await post_event(host, userId="u-3", userName="Kim Tran", type="xp", value=2000)
    await screen.context.set_offline(False)
    await expect(page.locator("#badge")).to_have_text("Live")
    await expect(page.locator("body")).to_contain_text("2,000 XP Milestone!")
    await expect(page.locator("body")).to_contain_text("Kim Tran")
    # Every card gives way to the recent column.
    await expect(page.locator("#recent")).to_contain_text("2,000 XP Milestone!")
    await expect(page.locator("#recent")).to_contain_text("Deal Maker Badge Earned!")
    await screen.shot("tv-recent-1920x1080")
    await screen.shot("tv-recent-1366x768", LAPTOP_SIZE)

    # A reload shows the same recent achievements straight away, without celebrating again.
    await page.reload()
    await expect(page.locator("#badge")).to_have_text("Live")
    await expect(page.locator("#recent")).to_contain_text("Deal Maker Badge Earned!")
    await expect(page.locator("#recent")).to_contain_text("2,000 XP Milestone!")
    await expect(page.locator(".celebration")).to_have_count(0)


async def test_tv_reconnects_after_a_server_restart_and_shows_what_it_missed(
    tmp_path: Path, screen: Screen
) -> None:
    settings = web_settings(tmp_path)
    live, server, task = await start_on(settings, unused_port())
    page = screen.page
    try:
        await page.goto(f"{live.url}/tv?cardSeconds=1&title=Sales%20Floor")
        await expect(page.locator("h1")).to_have_text("Sales Floor")
        await expect(page.locator("#badge")).to_have_text("Live")
    finally:
        await stop_server(server, task)
    await expect(page.locator("#badge")).to_have_text(re.compile("^(Connecting|Offline)$"))

    live, server, task = await start_on(settings, live.port)  # a deploy: same address
    try:
        async with live.http(bearer("host-app", Role.SERVICE)) as host:
            await post_event(host, userId="u-4", userName="Lee Park", type="xp", value=1000)
        await expect(page.locator("#badge")).to_have_text("Live")
        await expect(page.locator("#recent")).to_contain_text("1,000 XP Milestone!")
        await expect(page.locator("#recent")).to_contain_text("Lee Park")
    finally:
        await stop_server(server, task)


async def test_tv_shows_a_contest_going_live_and_ending_without_waiting_for_a_poll(
    site: LiveServer, screen: Screen
) -> None:
    page = screen.page
    await page.goto(f"{site.url}/tv")
    await expect(page.locator("#badge")).to_have_text("Live")
    await expect(page.locator("#contest-name")).to_have_text("No live contest")
    async with site.http(bearer("admin", Role.ADMIN)) as admin:
        ends = datetime.now(UTC) + timedelta(minutes=10)
        contest = await admin.post(
            "/api/contests",
            json={"name": "Flash Sprint", "metric": "revenue", "endAt": ends.isoformat()},
        )
        contest_id = contest.json()["id"]
        await admin.patch(f"/api/contests/{contest_id}", json={"status": "LIVE"})
        # Announced on tv-display: well before the (two-minute) fallback poll.
        await expect(page.locator("#contest-name")).to_have_text("Flash Sprint", timeout=5000)
        await admin.patch(f"/api/contests/{contest_id}", json={"status": "ENDED"})
        await expect(page.locator("#contest-name")).to_have_text("No live contest", timeout=5000)


async def test_tv_with_a_refused_token_says_why_and_does_not_reconnect_in_a_loop(
    site: LiveServer, screen: Screen
) -> None:
    page = screen.page
    await page.goto(f"{site.url}/tv?token=garbage")
    await expect(page.locator("#notice")).to_contain_text("token")
    await expect(page.locator("#badge")).to_have_text("Offline")
    await page.wait_for_timeout(3000)  # the ordinary backoff would have tried twice by now
    await expect(page.locator("#badge")).to_have_text("Offline")


async def test_tv_gives_a_first_and_a_rare_unlock_their_own_longer_card(
    site: LiveServer, host: httpx.AsyncClient, screen: Screen
) -> None:
    page = screen.page
    async with site.http(bearer("admin", Role.ADMIN)) as admin:
        await add_achievement(
            admin,
            name="Whale Hunter",
            description="Closed a deal over $1M",
            icon="🐋",
            requirements=[{"metric": "whale", "operator": "gte", "threshold": 1}],
        )
    # Fifty users with an event: the share a badge's holders are of.
    visits = [{"userId": f"u-{n}", "type": "visit"} for n in range(1, 51)]
    answer = await host.post("/api/events/batch", json={"events": visits})
    assert answer.status_code in (200, 201), answer.text
    await page.goto(f"{site.url}/tv?cardSeconds=1")
    await expect(page.locator("#badge")).to_have_text("Live")
    card = page.locator(".celebration")

    await post_event(host, userId="u-1", userName="Rosa Diaz", type="whale")
    await expect(card).to_contain_text("Whale Hunter Badge Earned!")
    await expect(card).to_contain_text("First in the company!")
    await expect(card).to_have_class(re.compile(r"\bspecial-first\b"))
    await expect(card).to_have_attribute("data-hold-ms", "2000")  # twice a normal card's
    await expect(page.locator("#announcer")).to_contain_text("First in the company!")
    await screen.shot("tv-first-unlock-1920x1080")
    await expect(page.locator("#recent")).to_contain_text("Whale Hunter Badge Earned!")

    await post_event(host, userId="u-2", userName="Sam Lee", type="whale")  # 2 of 50: 4%
    await expect(card).to_contain_text("Only 4% have this")
    await expect(card).to_have_class(re.compile(r"\bspecial-rare\b"))
    await expect(card).to_have_attribute("data-hold-ms", "2000")
    await screen.shot("tv-rare-unlock-1920x1080")
    await expect(card).to_have_count(0)

    await post_event(host, userId="u-3", userName="Kim Tran", type="xp", value=1000)
    ordinary = page.locator(".celebration", has_text="1,000 XP Milestone!")
    await expect(ordinary).to_have_attribute("data-hold-ms", "1000")
    await expect(ordinary).not_to_have_class(re.compile(r"\bspecial\b"))
    await expect(ordinary).not_to_contain_text("have this")
