"""Live connections (seed 003's websocket_session): kept in memory, written to the database in
batches so admins see every node's connections, and refreshed by heartbeats.

A node writes its sessions every `flush_interval_s`; rows not refreshed for three intervals
belong to a node that died and are removed by whichever node notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from accolade.storage.database import Database
from accolade.storage.models import WebsocketSession, utcnow

log = logging.getLogger("accolade.registry")


@dataclass
class Session:
    id: str
    namespace: str
    transport: str
    user_key: str | None
    role: str | None
    rooms: set[str] = field(default_factory=set)
    connected_at: datetime = field(default_factory=utcnow)
    last_heartbeat_at: datetime = field(default_factory=utcnow)


class Registry:
    def __init__(self, database: Database, *, flush_interval_s: float = 5.0) -> None:
        self.database = database
        self.node_id = uuid.uuid4().hex[:16]
        self.flush_interval_s = flush_interval_s
        self.sessions: dict[str, Session] = {}
        self._closed: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    # --- changes, all in memory --------------------------------------------------------------

    def open(self, session: Session) -> None:
        self.sessions[session.id] = session

    def close(self, session_id: str) -> None:
        if self.sessions.pop(session_id, None) is not None:
            self._closed.add(session_id)

    def entered(self, session_id: str, room: str) -> None:
        if (session := self.sessions.get(session_id)) is not None:
            session.rooms.add(room)

    def left(self, session_id: str, room: str) -> None:
        if (session := self.sessions.get(session_id)) is not None:
            session.rooms.discard(room)

    def heartbeat(self, session_id: str) -> None:
        if (session := self.sessions.get(session_id)) is not None:
            session.last_heartbeat_at = utcnow()

    # --- persistence ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._remove_stale()
        self._task = asyncio.create_task(self._run(), name="session-registry")

    async def stop(self) -> None:
        if self._task is not None:
            # Cancelled only between flushes: a flush cut short could leave its transaction open.
            async with self._flush_lock:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._closed.update(self.sessions)
        self.sessions.clear()
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
                await self._remove_stale()
            except Exception:
                log.exception("writing websocket sessions failed; retrying")

    async def flush(self) -> None:
        """Write this node's sessions as they are now (rooms, heartbeats) and drop closed ones."""
        async with self._flush_lock:
            closed, self._closed = self._closed, set()
            snapshot = list(self.sessions.values())
            now = utcnow()
            async with self.database.transaction() as db:
                if closed:
                    await db.execute(
                        delete(WebsocketSession).where(WebsocketSession.id.in_(closed))
                    )
                existing = set(
                    (
                        await db.scalars(
                            select(WebsocketSession.id).where(
                                WebsocketSession.node_id == self.node_id
                            )
                        )
                    ).all()
                )
                for s in snapshot:
                    values: dict[str, Any] = {
                        "rooms": sorted(s.rooms),
                        "last_heartbeat_at": max(s.last_heartbeat_at, now),
                    }
                    if s.id in existing:
                        await db.execute(
                            update(WebsocketSession)
                            .where(WebsocketSession.id == s.id)
                            .values(**values)
                        )
                    else:
                        db.add(
                            WebsocketSession(
                                id=s.id,
                                node_id=self.node_id,
                                namespace=s.namespace,
                                transport=s.transport,
                                user_key=s.user_key,
                                role=s.role,
                                connected_at=s.connected_at,
                                **values,
                            )
                        )

    async def _remove_stale(self) -> None:
        cutoff = utcnow() - timedelta(seconds=3 * self.flush_interval_s + 5)
        async with self.database.transaction() as db:
            await db.execute(
                delete(WebsocketSession).where(
                    WebsocketSession.last_heartbeat_at < cutoff,
                    WebsocketSession.node_id != self.node_id,
                )
            )

    async def summary(self) -> dict[str, Any]:
        """Live connections of every node, by namespace and room."""
        await self.flush()
        cutoff = utcnow() - timedelta(seconds=3 * self.flush_interval_s + 5)
        async with self.database.transaction() as db:
            rows = (
                await db.scalars(
                    select(WebsocketSession).where(WebsocketSession.last_heartbeat_at >= cutoff)
                )
            ).all()
        namespaces: dict[str, dict[str, Any]] = {}
        nodes: dict[str, int] = {}
        for row in rows:
            entry = namespaces.setdefault(row.namespace, {"connections": 0, "rooms": {}})
            entry["connections"] += 1
            for room in row.rooms:
                entry["rooms"][room] = entry["rooms"].get(room, 0) + 1
            nodes[row.node_id] = nodes.get(row.node_id, 0) + 1
        return {"total": len(rows), "namespaces": namespaces, "nodes": nodes}
