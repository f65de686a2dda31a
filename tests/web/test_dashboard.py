"""The dashboard in a real browser: the leaderboard moving, the team feed, and a signed-in
user's level, XP bar, streak, achievements (locked greyed, secret hidden, progress bars) and
toasts."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from accolade.domain.identity import Role
from tests.realtime.conftest import LiveServer
from tests.web.conftest import (
    LAPTOP_SIZE,
    TV_SIZE,
    Screen,
    add_achievement,
    bearer,
    post_event,
    user_token,
)


async def test_dashboard_shows_a_users_progress_and_toasts_what_they_earn(
    site: LiveServer, host: httpx.AsyncClient, screen: Screen
) -> None:
    page = screen.page
    async with site.http(bearer("admin", Role.ADMIN)) as admin:
        await add_achievement(
            admin,
            name="Deal Maker",
            description="Closed a first deal",
            icon="🤝",
            requirements=[{"metric": "sales", "operator": "gte", "threshold": 1}],
        )
        await add_achievement(
            admin,
            name="Closer",
            description="Closed 3 deals",
            icon="🎯",
            rarity="rare",
            requirements=[{"metric": "sales", "operator": "gte", "threshold": 3}],
        )
        await add_achievement(
            admin,
            name="Night Owl",
            description="A secret",
            icon="🦉",
            secret=True,
            requirements=[{"metric": "late_calls", "operator": "gte", "threshold": 3}],
        )
    await post_event(host, userId="u-7", userName="Rosa Diaz", type="xp", value=300)
    await post_event(host, userId="u-7", type="login")
    await host.post("/api/sales-reps/u-8/sales", json={"amount": 900, "userName": "Sam Lee"})

    await page.goto(f"{site.url}/dashboard?metric=revenue&period=month&token={user_token('u-7')}")
    assert "token=" not in page.url  # kept in the browser, not in the address bar
    await expect(page.locator("#badge")).to_have_text("Live")
    await expect(page.locator("#me-name")).to_have_text("Rosa Diaz")
    await expect(page.locator("#me-level")).to_have_text("Level 2")
    await expect(page.locator("#xp-total")).to_have_text("300 XP")
    await expect(page.locator("#me-streak")).to_contain_text("1-day streak")
    deal_maker = page.locator(".achievement", has_text="Deal Maker")
    await expect(deal_maker).to_have_class("achievement locked")
    # Each achievement's rarity: Sam holds Deal Maker, one of the two users with an event.
    await expect(deal_maker.locator(".achievement-share")).to_have_text("50% have this")
    await expect(
        page.locator(".achievement", has_text="Closer").locator(".achievement-share")
    ).to_have_text("Nobody yet")
    await expect(page.locator("#achievements")).not_to_contain_text("Night Owl")
    await expect(page.locator("#board .board-row")).to_have_count(1)
    await expect(page.locator("#feed")).to_contain_text("Level 2 Achieved!")  # history

    # Rosa sells: a toast for the badge, the achievement unlocks, Closer shows 1 / 3, and she
    # takes first place on the board (the row slides, Sam's moves down).
    await host.post("/api/sales-reps/u-7/sales", json={"amount": 1500})
    await expect(page.locator(".toast", has_text="Deal Maker Badge Earned!")).to_be_visible()
    await expect(deal_maker).to_have_class("achievement unlocked")
    await expect(deal_maker.locator(".achievement-share")).to_have_text("100% have this")
    closer = page.locator(".achievement", has_text="Closer")
    await expect(closer.locator(".mini-text")).to_have_text("1 / 3")
    await expect(page.locator("#board .board-row").first).to_contain_text("Rosa Diaz")
    await expect(page.locator("#board .board-row.me")).to_contain_text("$1,500")
    await expect(page.locator("#board .board-row", has_text="Sam Lee")).to_contain_text("▼1")
    await expect(page.locator("#announcer")).not_to_be_empty()
    await expect(page.locator("#feed .feed-item").first).to_contain_text("Rosa Diaz")  # live
    await screen.shot("dashboard-user-1920x1080", TV_SIZE)
    await screen.shot("dashboard-user-1366x768", LAPTOP_SIZE)

    # Signed out, the page still shows the public side.
    await page.locator("#sign-out").click()
    await expect(page.locator("#token-form")).to_be_visible()
    await expect(page.locator("#board .board-row")).to_have_count(2)
