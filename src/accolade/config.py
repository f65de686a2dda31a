"""Settings: environment variables `ACCOLADE_*` and a `.env` file. Nothing else lives here."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from accolade.support.urls import DatabaseUrl, parse_database_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ACCOLADE_", env_file=".env", extra="ignore", frozen=True
    )

    host: str = Field("127.0.0.1", description="Interface `accolade serve` binds to.")
    port: int = Field(5000, ge=1, le=65535, description="TCP port `accolade serve` listens on.")
    database_url: str = Field(
        "sqlite:///./accolade.db",
        description="`sqlite:///path/to.db` or `postgresql://user@host:5432/db`.",
    )
    redis_url: str | None = Field(None, description="Set = multi-node mode (Redis fan-out).")
    amqp_url: str | None = Field(
        None, description="Set: domain events also go to RabbitMQ's `gamification` exchange."
    )
    relay_enabled: bool = Field(
        True, description="Publish committed room events from this node (off: leave it to others)."
    )
    jwt_secret: str | None = Field(
        None,
        description="HS256 secret for tokens. Unset: generated once and kept in the database.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS, comma-separated."
    )
    public_display: bool = Field(True, description="Anonymous clients may join public rooms.")
    demo: bool = Field(False, description="Run the simulated demo team.")
    demo_interval_s: float = Field(
        3.0, gt=0, description="Seconds between the demo team's moves (with `demo`)."
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted.")
    # Metrics name routes, rooms and traffic: not for anyone by default (Prometheus sends the
    # token with `authorization: {credentials: ...}` in its scrape config).
    metrics: Literal["open", "token", "off"] = Field(
        "token",
        description="`/metrics`: `token` (an admin token required), `open` (anyone), `off` (404).",
    )
    db_pool_size: int = Field(10, ge=1, description="PostgreSQL connection pool size.")
    db_pool_overflow: int = Field(10, ge=0, description="Extra PostgreSQL connections under load.")
    sqlite_busy_timeout_ms: int = Field(5000, ge=0, description="How long SQLite waits for a lock.")
    log_level: str = Field("info", description="uvicorn log level.")
    history_retention_s: int = Field(
        7 * 24 * 3600, ge=60, description="How long room events are kept for catch-up."
    )
    relay_poll_interval_s: float = Field(
        1.0, gt=0, description="How often each node looks for unpublished room events."
    )
    anti_cheat: bool = Field(
        True,
        description=(
            "Refuse negative values; refuse a user token's absurd or too-frequent events, and "
            "flag (but apply) a service or admin token's."
        ),
    )
    anti_cheat_max_value: float = Field(
        1_000_000, gt=0, description="Largest value one event may carry."
    )
    anti_cheat_max_events_per_s: int = Field(
        50, ge=1, description="Events a second per user, per node."
    )
    session_flush_interval_s: float = Field(
        5.0, gt=0, description="How often live connections are written for the admin view."
    )
    ws_write_buffer_bytes: int = Field(
        1_048_576,
        ge=16_384,
        description="Unsent bytes a WebSocket connection may hold before it is cut off as too "
        "slow (it reconnects and catches up by id).",
    )
    fast_path: Literal["on", "off"] = Field(
        "on",
        description="`on`: room events are framed once and written straight to each WebSocket "
        "connection (when the start-up probe finds what it needs); `off`: the ordinary ASGI path.",
    )
    ws_max_events_per_s: int = Field(
        50,
        ge=0,
        description="Messages a second one real-time connection may send (0: no limit); the "
        'excess is dropped with an `error {code: "rate_limited"}`.',
    )
    ws_max_connections: int = Field(
        0,
        ge=0,
        description="Real-time connections (Socket.IO and plain WebSocket) one node holds; "
        "beyond it new ones are refused at the handshake (0: no cap).",
    )
    # Engine.IO's heartbeat and Socket.IO's connect timeout, Node's defaults; the heartbeat in
    # whole seconds (the handshake announces them so). The protocol tests shorten them.
    socketio_ping_interval_s: int = Field(
        25, ge=1, description="Seconds between the server's Engine.IO pings."
    )
    socketio_ping_timeout_s: int = Field(
        20, ge=1, description="Seconds a ping may wait for its pong before the connection closes."
    )
    socketio_connect_timeout_s: float = Field(
        45.0, gt=0, description="Seconds a Socket.IO connection has to connect to a namespace."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        parse_database_url(value)  # raises ValueError with a clear message
        return value

    @cached_property
    def database(self) -> DatabaseUrl:
        return parse_database_url(self.database_url)

    @property
    def sqlite_path(self) -> Path | None:
        return self.database.sqlite_path
