"""`accolade load FILE`: achievements, quests and contests as code.

The file (YAML, or JSON, which YAML reads too) lists what should exist:

    achievements:          # matched by `key`: created when missing, changed when different
      - key: first-sale
        name: First Sale
        requirements: [{metric: sales, operator: gte, threshold: 1}]
    quests:                # matched by `title`: created when missing, then left as they are
      - title: Onboarding
        steps: [{title: Log in, requirements: [{metric: login, operator: gte, threshold: 1}]}]
    contests:              # matched by `name`: created when missing, then left as they are
      - name: November Sprint
        metric: revenue

Every entry goes through the REST API (in-process against the configured database, or a running
server with `--url`), so a file is validated exactly as a request would be, new achievements are
backfilled, and loading the same file twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from accolade.domain.wire import iso

SECTIONS = ("achievements", "quests", "contests")
# What identifies an entry of each section, and where its list lives.
IDENTITY = {"achievements": "key", "quests": "title", "contests": "name"}
COLLECTION = {
    "achievements": "/api/achievements",
    "quests": "/api/quests",
    "contests": "/api/contests",
}


class LoadError(Exception):
    """A file or an entry that cannot be loaded; the message says which and why."""


@dataclass
class Outcome:
    section: str
    identity: str
    action: str  # created | updated | unchanged | kept
    id: Any = None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(o.action == action for o in self.outcomes)


def read_file(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The sections of a load file, checked for shape (each a list of objects)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise LoadError(f"{path} is neither YAML nor JSON: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise LoadError(f"{path} must hold an object with {', '.join(SECTIONS)}")
    unknown = sorted(set(map(str, raw)) - set(SECTIONS))
    if unknown:
        raise LoadError(f"unknown section {unknown[0]!r}: expected {', '.join(SECTIONS)}")
    sections: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        entries = raw.get(section) or []
        if not isinstance(entries, list):
            raise LoadError(f"`{section}` must be a list")
        identity = IDENTITY[section]
        seen: set[str] = set()
        for n, entry in enumerate(entries):
            where = f"{section}[{n}]"
            if not isinstance(entry, dict):
                raise LoadError(f"{where} must be an object")
            name = entry.get(identity)
            if not isinstance(name, str) or not name.strip():
                raise LoadError(f"{where} needs a `{identity}` (it is how a reload finds it)")
            if name in seen:
                raise LoadError(f"{where}: `{identity}` {name!r} appears twice")
            seen.add(name)
        sections[section] = [_json_ready(entry) for entry in entries]
    return sections


def _json_ready(value: Any) -> Any:
    """YAML reads timestamps as datetimes; the API takes ISO 8601 (no zone given means UTC)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _differs(wanted: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether a field the file names differs from what is stored (fields it omits stay)."""
    aliases = {"title": "name"}  # an achievement's `title` is its name
    return any(
        not _same(v, current.get(aliases.get(k, k), current.get(k))) for k, v in wanted.items()
    )


def _same(wanted: Any, stored: Any) -> bool:
    """`wanted` (from the file) matches `stored` (as the API shows it): nested objects may show
    more fields than the file gives, but only empty ones (the defaults the API fills in)."""
    if isinstance(wanted, dict) and isinstance(stored, dict):
        return all(_same(v, stored.get(k)) for k, v in wanted.items()) and all(
            v in (None, {}, []) for k, v in stored.items() if k not in wanted
        )
    if isinstance(wanted, list) and isinstance(stored, list):
        return len(wanted) == len(stored) and all(map(_same, wanted, stored))
    return bool(wanted == stored)


async def apply(
    client: httpx.AsyncClient,
    sections: dict[str, list[dict[str, Any]]],
    *,
    dry_run: bool = False,
    progress: Callable[[Outcome], None] | None = None,
) -> Report:
    """Create or change what the file lists, in file order; returns what happened to each."""
    report = Report()
    for section in SECTIONS:
        entries = sections.get(section, [])
        if not entries:
            continue
        identity = IDENTITY[section]
        existing = {row.get(identity): row for row in await _list(client, section)}
        for n, entry in enumerate(entries):
            name = entry[identity]
            current = existing.get(name)
            if current is None:
                action, row = "created", None
                if not dry_run:
                    row = await _send(client, "POST", COLLECTION[section], entry, section, n)
            elif section == "achievements" and _differs(entry, current):
                action, row = "updated", current
                if not dry_run:
                    path = f"{COLLECTION[section]}/{current['id']}"
                    row = await _send(client, "PATCH", path, entry, section, n)
            else:
                action, row = ("unchanged" if section == "achievements" else "kept"), current
            outcome = Outcome(section, name, action, (row or {}).get("id"))
            report.outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    return report


async def _list(client: httpx.AsyncClient, section: str) -> list[dict[str, Any]]:
    response = await client.get(COLLECTION[section])
    if response.status_code == 404:
        raise LoadError(f"this server has no {COLLECTION[section]}: it cannot load {section}")
    _raise_for(response, f"listing {section}")
    rows = response.json()
    return rows if isinstance(rows, list) else list(rows.get("items", []))


async def _send(
    client: httpx.AsyncClient, method: str, path: str, body: Any, section: str, n: int
) -> dict[str, Any]:
    response = await client.request(method, path, json=body)
    _raise_for(response, f"{section}[{n}]")
    row: dict[str, Any] = response.json()
    return row


def _raise_for(response: httpx.Response, where: str) -> None:
    if response.is_success:
        return
    try:
        message = response.json()["error"]["message"]  # a 422 names each field and its problem
    except (ValueError, KeyError, TypeError):
        message = response.text[:300]
    raise LoadError(f"{where}: {response.status_code} {message}")
