"""How values look on the wire: in JSON answers and in real-time payloads.

One spelling of a moment for every answer and event: ISO 8601 in UTC with a `Z`
(`2026-12-03T10:15:00.123456Z`), as the seeds' clients parse it with `new Date(...)`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso(at: datetime) -> str: ...
@overload
def iso(at: None) -> None: ...
def iso(at: datetime | None) -> str | None:
    """`at` in UTC, ISO 8601 with `Z` (None stays None). A naive datetime is taken as UTC."""
    if at is None:
        return None
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))
