"""How values look on the wire: in JSON answers, real-time payloads and the audit log.

One spelling of a moment for every answer and event: ISO 8601 in UTC with a `Z`
(`2026-12-03T10:15:00.123456Z`), as the seeds' clients parse it with `new Date(...)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, overload


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


# Words the seeds' payloads spell in capitals inside a name (`totalXP`, seed 001's LevelUpEvent).
_ACRONYMS = {"xp": "XP"}


def camel(name: str) -> str:
    """A Python name as the wire spells it: `user_name` -> `userName`, `total_xp` -> `totalXP`;
    a name without `_` stays as it is."""
    head, *rest = name.split("_")
    return head + "".join(_ACRONYMS.get(part, part.title()) for part in rest)


def encode(value: Any) -> Any:
    """`value` as JSON shows it: dataclass fields in camelCase, mappings with their keys as
    given, moments as `iso`, enums by value, sequences and sets as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel(field.name): encode(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(item) for item in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    return value
