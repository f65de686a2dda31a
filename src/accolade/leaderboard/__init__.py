"""Leaderboard stores: `from_url(None)` reads the database, `redis://` keeps a sorted-set copy."""

from __future__ import annotations

from accolade.domain.boards import Board, EntryChange, Standing
from accolade.leaderboard.base import LeaderboardStore
from accolade.storage.database import Database


def from_url(url: str | None, database: Database) -> LeaderboardStore:
    if not url:
        from accolade.leaderboard.sql import SqlLeaderboard

        return SqlLeaderboard(database)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from accolade.leaderboard.redis import RedisLeaderboard

        return RedisLeaderboard(url, database)
    raise ValueError(f"unsupported leaderboard URL {url!r}: use redis://host:6379/0")


__all__ = ["Board", "EntryChange", "LeaderboardStore", "Standing", "from_url"]
