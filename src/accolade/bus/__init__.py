"""The bus: the only path between nodes. `from_url(None)` is in-process; `redis://` fans out."""

from __future__ import annotations

from accolade.bus.base import Bus, MessageHandler


def from_url(url: str | None) -> Bus:
    if not url:
        from accolade.bus.memory import MemoryBus

        return MemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from accolade.bus.redis import RedisBus

        return RedisBus(url)
    raise ValueError(f"unsupported bus URL {url!r}: use redis://host:6379/0")


__all__ = ["Bus", "MessageHandler", "from_url"]
