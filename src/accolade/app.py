"""create_app(): the one place that knows every part and wires them together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

from accolade import __version__
from accolade.api import errors
from accolade.api.deps import Services
from accolade.api.middleware import BodyLimit, RequestMetrics
from accolade.api.routes import achievements, definitions, health, users
from accolade.config import Settings
from accolade.services import instance
from accolade.services.achievements import AchievementService
from accolade.services.users import UserService
from accolade.storage import migrate
from accolade.storage.database import Database

log = logging.getLogger("accolade")

DESCRIPTION = """
Accolade turns what users do in your application into achievements, XP and levels, streaks,
leaderboards, contests, quests and rewards, and celebrates them live.

Authenticate with `Authorization: Bearer <token>`; make a token with
`accolade token --sub ID --role admin|service|user|display`.
Every error is `{"error": {"code", "message", "details"}}`.
"""


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    """The ASGI application. Resources (database, secret) are opened in its lifespan."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(
            settings.database,
            pool_size=settings.db_pool_size,
            pool_overflow=settings.db_pool_overflow,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )
        try:
            if run_migrations:
                before, after = await migrate.upgrade(database)
                if before != after:
                    log.info("database migrated from %s to %s", before or "empty", after)
            app.state.services = Services(
                settings=settings,
                database=database,
                jwt_secret=await instance.jwt_secret(database, settings.jwt_secret),
                users=UserService(database),
                achievements=AchievementService(database),
            )
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="Accolade",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
    )
    app.state.metrics = CollectorRegistry()
    errors.install(app)
    for router in (health.router, users.router, definitions.router, achievements.router):
        app.include_router(router)
    # Outermost last: the body limit sees the request first.
    app.add_middleware(RequestMetrics, registry=app.state.metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
