"""create_app(): the one place that knows every part and wires them together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import socketio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from accolade import __version__, bus, leaderboard
from accolade.api import errors, openapi
from accolade.api.deps import Services
from accolade.api.middleware import BodyLimit, RequestMetrics
from accolade.api.routes import (
    achievements,
    activity,
    admin,
    definitions,
    events,
    health,
    history,
    pages,
    profile,
    quests,
    rewards,
    training,
    users,
)
from accolade.api.routes import contests as contest_routes
from accolade.api.routes import leaderboards as leaderboard_routes
from accolade.api.routes import notifications as notification_routes
from accolade.api.routes import sales as sales_routes
from accolade.api.routes import teams as team_routes
from accolade.auth import read_token
from accolade.bus.amqp import AmqpPublisher
from accolade.bus.redis import RedisBus
from accolade.bus.relay import Relay
from accolade.config import Settings
from accolade.domain.identity import Principal
from accolade.pipeline.broadcaster import Broadcaster
from accolade.pipeline.intake import Engine
from accolade.pipeline.reactions import ProblemSolved, QuizCompleted
from accolade.realtime import access
from accolade.realtime.fastpath import FastPath
from accolade.realtime.gateway import Gateway
from accolade.realtime.history import History
from accolade.realtime.limits import ClientLimits
from accolade.realtime.registry import Registry
from accolade.realtime.socketio_server import Context, build_server
from accolade.realtime.websocket_server import PlainWebSockets
from accolade.services import instance
from accolade.services.achievements import AchievementService
from accolade.services.anti_cheat import AntiCheat, Limits
from accolade.services.contest_scheduler import ContestScheduler
from accolade.services.contest_scoring import ContestScoring
from accolade.services.contests import ContestService, announce_problem_solved
from accolade.services.demo import DemoTeam
from accolade.services.leaderboards import LeaderboardService
from accolade.services.notifications import NotificationService
from accolade.services.profiles import ProfileService
from accolade.services.quests import QuestService
from accolade.services.recompute import RecomputeService
from accolade.services.rewards import RewardService
from accolade.services.sales import SalesService
from accolade.services.simulate import SimulateService
from accolade.services.teams import TeamService
from accolade.services.training import TrainingService
from accolade.services.users import UserService
from accolade.storage import migrate
from accolade.storage.database import Database

log = logging.getLogger("accolade")

DESCRIPTION = """
Accolade turns what users do in your application into achievements, XP and levels, streaks,
leaderboards, contests, quests and rewards, and celebrates them live.

Authenticate with `Authorization: Bearer <token>`; make a token with
`accolade token --sub ID --role admin|service|user|display`.
Every error is `{"error": {"code", "message", "details"}}` (the `Error` schema); each operation
lists the statuses it can answer. A method a path does not take is 405 `method_not_allowed` with
the `Allow` header (and `details.allow`).

Real time: Socket.IO at `/socket.io` (namespaces `/leaderboard`, `/training`, `/`) and plain
WebSocket at `/leaderboard`, `/training` and `/game-events`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    run_migrations: bool = True,
    fast_path: FastPath | None = None,
) -> FastAPI:
    """The HTTP application (REST and plain WebSocket). `app.state.asgi` adds Socket.IO in front.

    Nothing connects here; the lifespan migrates, resolves the secret and starts the relay.
    `fast_path` defaults to what `ACCOLADE_FAST_PATH` and the start-up probe allow.
    """
    settings = settings or Settings()
    fast_path = fast_path or FastPath.select(settings.fast_path)
    client_limits = ClientLimits(
        max_events_per_s=settings.ws_max_events_per_s,
        max_connections=settings.ws_max_connections,
    )
    database = Database(
        settings.database,
        pool_size=settings.db_pool_size,
        pool_overflow=settings.db_pool_overflow,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    message_bus = bus.from_url(settings.redis_url)
    analytics = AmqpPublisher(settings.amqp_url) if settings.amqp_url else None
    relay = Relay(
        database,
        message_bus,
        poll_interval_s=settings.relay_poll_interval_s,
        sinks=[analytics.publish] if analytics else [],
    )
    database.after_outbox_commit = relay.committed
    history_store = History(database)
    gateway = Gateway(history_store)
    registry = Registry(database, flush_interval_s=settings.session_flush_interval_s)
    broadcaster = Broadcaster()
    notifications = NotificationService(database)
    engine = Engine(database, broadcaster)
    engine.react(QuizCompleted(broadcaster))
    engine.react(ProblemSolved(announce_problem_solved))
    leaderboards = LeaderboardService(
        database, leaderboard.from_url(settings.redis_url, database), broadcaster
    )
    engine.listeners.append(leaderboards)
    contests = ContestService(database, broadcaster)
    engine.listeners.append(ContestScoring(contests.counting, contests.updates))
    contest_scheduler = ContestScheduler(contests)
    contests.on_change = contest_scheduler.kick
    teams = TeamService(database)
    secret: dict[str, str] = {}  # filled by the lifespan, read by token checks

    def token_reader(token: str) -> Principal:
        return read_token(secret["jwt"], token)

    rooms = access.RoomMembership(teams.may_join_room, contests.may_join_room)
    sio = build_server(
        Context(
            gateway,
            registry,
            token_reader,
            settings.public_display,
            notifications=notifications.mark_read_from_socket,
            contest_board=contests.board_for_socket,
            team_membership=rooms,
        ),
        settings.cors_origins,
        write_buffer_bytes=settings.ws_write_buffer_bytes,
        fast_path=fast_path,
        limits=client_limits,
        ping_interval_s=settings.socketio_ping_interval_s,
        ping_timeout_s=settings.socketio_ping_timeout_s,
        connect_timeout_s=settings.socketio_connect_timeout_s,
    )
    plain = PlainWebSockets(
        gateway,
        registry,
        token_reader,
        settings.public_display,
        write_buffer_bytes=settings.ws_write_buffer_bytes,
        team_membership=rooms,
        fast_path=fast_path,
        limits=client_limits,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        demo: DemoTeam | None = None
        try:
            if run_migrations:
                before, after = await migrate.upgrade(database)
                if before != after:
                    log.info("database migrated from %s to %s", before or "empty", after)
            secret["jwt"] = await instance.jwt_secret(database, settings.jwt_secret)
            app.state.services = Services(
                settings=settings,
                database=database,
                jwt_secret=secret["jwt"],
                users=UserService(database, leaderboards),
                achievements=AchievementService(database, broadcaster),
                notifications=notifications,
                history=history_store,
                registry=registry,
                gateway=gateway,
                relay=relay,
                engine=engine,
                anti_cheat=AntiCheat(
                    database,
                    Limits(
                        enabled=settings.anti_cheat,
                        max_value=settings.anti_cheat_max_value,
                        max_events_per_s=settings.anti_cheat_max_events_per_s,
                    ),
                ),
                training=TrainingService(database),
                quests=QuestService(database, broadcaster),
                rewards=RewardService(database, engine),
                profiles=ProfileService(database, engine.curve, leaderboards.standing),
                leaderboards=leaderboards,
                sales=SalesService(engine),
                teams=teams,
                contests=contests,
                recompute=RecomputeService(database, broadcaster),
                simulate=SimulateService(database),
            )
            if isinstance(message_bus, RedisBus):  # pub/sub keeps nothing for a node away
                message_bus.on_resubscribed = gateway.catch_up
            await message_bus.start(gateway.on_bus_message, await instance.cluster_id(database))
            await registry.start()
            if analytics is not None:
                await analytics.start()
            if settings.relay_enabled:
                await relay.start()
            await contest_scheduler.start()
            if settings.demo:
                demo = DemoTeam(
                    engine.ingest,
                    app.state.services.achievements,
                    interval_s=settings.demo_interval_s,
                    contests=contests,
                )
                await demo.start()
            yield
        finally:
            if demo is not None:
                await demo.stop()
            await contest_scheduler.stop()
            await contests.updates.close()
            await relay.stop()
            await leaderboards.close()
            if analytics is not None:
                await analytics.close()
            await registry.stop()
            await message_bus.close()
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
    for router in (
        health.router,
        users.router,
        definitions.router,
        achievements.router,
        admin.router,
        history.router,
        events.router,
        training.router,
        quests.router,
        rewards.router,
        notification_routes.router,
        activity.router,
        profile.router,
        leaderboard_routes.router,
        sales_routes.router,
        team_routes.router,
        contest_routes.router,
        pages.router,
    ):
        app.include_router(router)
    openapi.install(app, public_display=settings.public_display)
    app.mount("/static", pages.static_files(), name="static")
    app.router.routes.extend(plain.routes())
    # Outermost last: the body limit sees the request first.
    app.add_middleware(RequestMetrics, registry=app.state.metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            # What a board's answer says in headers (its body is the bare array of entries).
            expose_headers=[
                "Leaderboard-Metric",
                "Leaderboard-Period",
                "Leaderboard-Period-Key",
                "Leaderboard-Team",
                "Contest-Status",
                "Contest-Metric",
                "Contest-Name",
                "Idempotent-Replayed",
            ],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.state.asgi = fast_path.wrap(
        socketio.ASGIApp(sio, other_asgi_app=app, socketio_path="socket.io")
    )
    app.state.fast_path = fast_path
    app.state.sio = sio
    return app


def create_asgi(settings: Settings | None = None) -> ASGIApp:
    """Everything on one port: Socket.IO at /socket.io, the rest by the HTTP application."""
    asgi: ASGIApp = create_app(settings).state.asgi
    return asgi
