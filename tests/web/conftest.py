"""A real browser on the real pages: Playwright driving Debian's Chromium against a live server.

Chromium is installed with apt when `/usr/bin/chromium` is missing (with the colour emoji font the
achievement icons use). When that is impossible the browser tests skip, or fail under
ACCOLADE_REQUIRE_SERVICES=1 (CI). Screenshots go to `test-artifacts/` (gitignored) for a person
to look at. The browser tests run on SQLite only: the pages read what the API answers, and the
API suite already runs on both databases.
"""

from __future__ import annotations

import asyncio
import fcntl
import shutil
import subprocess
import tempfile
from asyncio import Task
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from accolade.app import create_app
from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.identity import Role
from tests.conftest import TEST_SECRET, unavailable
from tests.realtime.conftest import LiveServer, live_settings, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APT_PACKAGES = ["chromium", "fonts-noto-color-emoji"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TV_SIZE = {"width": 1920, "height": 1080}
LAPTOP_SIZE = {"width": 1366, "height": 768}
# Long enough for a celebration card to give way to the next (5.5 s) on a loaded CI machine.
UI_TIMEOUT_MS = 15_000


def _apt_install() -> str | None:
    """Install Chromium with apt (refreshing the package lists if the first try fails); the
    reason it could not, or None."""
    apt = shutil.which("apt-get")
    if apt is None:
        return "apt-get is not available"
    install = [apt, "install", "-y", *APT_PACKAGES]
    problem = ""
    for commands in ([install], [[apt, "update"], install]):
        try:
            for command in commands:
                subprocess.run(command, check=True, capture_output=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as exc:
            problem = f"`{' '.join(command)}` failed: {exc}"
            continue
        if CHROMIUM.exists():
            return None
    return problem or "apt-get did not install /usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        # pytest-xdist workers can get here together, and apt-get refuses to run twice at once:
        # one installs, the others wait and find Chromium there.
        with (Path(tempfile.gettempdir()) / "accolade-tests-apt.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            reason = None if CHROMIUM.exists() else _apt_install()
        if reason is not None:
            unavailable(f"Chromium is missing and could not be installed: {reason}")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    expect.set_options(timeout=UI_TIMEOUT_MS)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


class Screen:
    """A browser context on one page; JavaScript errors on the page fail the test."""

    def __init__(self, context: Any, page: Any) -> None:
        self.context = context
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    async def shot(self, name: str, size: dict[str, int] | None = None) -> Path:
        if size is not None:
            await self.page.set_viewport_size(size)
            await self.page.wait_for_timeout(300)  # layout settles
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        return path


@pytest.fixture
async def screen(browser: Any) -> AsyncIterator[Screen]:
    context = await browser.new_context(viewport=TV_SIZE)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = await context.new_page()
    opened = Screen(context, page)
    try:
        yield opened
    finally:
        await context.close()
    assert opened.errors == [], f"JavaScript errors on the page: {opened.errors}"


def web_settings(tmp_path: Path, **overrides: object) -> Settings:
    base = Settings(
        database_url=f"sqlite:///{tmp_path / 'screens.db'}",
        jwt_secret=TEST_SECRET,
        _env_file=None,  # type: ignore[call-arg]
    )
    return live_settings(base, **overrides)


async def start_on(settings: Settings, port: int) -> tuple[LiveServer, uvicorn.Server, Task[None]]:
    """A live server on a given port (a restart keeps the address the page knows)."""
    app = create_app(settings)
    config = uvicorn.Config(
        app.state.asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.025)
    return LiveServer(app, port, settings), server, task


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A live server on an empty SQLite file."""
    live, server, task = await start_server(web_settings(tmp_path))
    try:
        yield live
    finally:
        await stop_server(server, task)


def bearer(subject: str, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(TEST_SECRET, subject, role, 3600)}"}


def user_token(subject: str) -> str:
    return issue_token(TEST_SECRET, subject, Role.USER, 3600)


@pytest.fixture
async def host(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """The host application: a service token on the live server."""
    async with site.http(bearer("host-app", Role.SERVICE)) as http:
        yield http


async def post_event(http: httpx.AsyncClient, **event: Any) -> dict[str, Any]:
    response = await http.post("/api/events", json=event)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def add_achievement(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await http.post("/api/achievements", json=fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
