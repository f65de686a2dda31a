"""Plain database URLs as operators write them, turned into the async driver's URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    dialect: str  # "sqlite" or "postgresql"
    async_url: URL
    display: str  # as the operator wrote it, password hidden

    @property
    def sqlite_path(self) -> Path | None:
        if self.dialect != "sqlite" or not self.async_url.database:
            return None
        if self.async_url.database == ":memory:":
            return None
        return Path(self.async_url.database)

    def redacted(self) -> str:
        return self.display


_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def parse_database_url(raw: str) -> DatabaseUrl:
    """Accept `sqlite:///x.db`, `postgresql://...` (any driver suffix) and pick the async driver."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {raw!r}") from exc
    backend = url.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(
            f"unsupported database {backend!r}: use sqlite:///path.db or postgresql://user@host/db"
        )
    dialect = "sqlite" if backend == "sqlite" else "postgresql"
    return DatabaseUrl(
        dialect=dialect,
        async_url=url.set(drivername=_DRIVERS[backend]),
        display=url.render_as_string(hide_password=True),
    )
