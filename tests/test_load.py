"""`accolade load FILE`: achievements, quests and contests as code, idempotent."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.test_cli import invoke, printed_token, serving

CATALOG = """
achievements:
  - key: first-sale
    name: First Sale
    description: Close your first deal
    icon: "💰"
    requirements: [{metric: sales, operator: gte, threshold: 1}]
    rewards: [{type: XP, value: 50}]
  - key: three-a-day
    name: Three deals a day
    requirements:
      - {metric: deal, operator: gte, threshold: 3, timeframe: {duration: 1, unit: days}}
quests:
  - title: Onboarding
    steps:
      - {id: login, title: Log in, requirements: [{metric: login, operator: gte, threshold: 1}]}
"""


def stored(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def load(tmp_path: Path, text: str, *args: str, name: str = "catalog.yaml"):
    (tmp_path / name).write_text(text)
    return invoke(
        "load", name, "--database-url", f"sqlite:///{tmp_path / 'a.db'}", *args, cwd=tmp_path
    )


def test_load_creates_what_the_file_lists_and_a_second_load_changes_nothing(tmp_path):
    first = load(tmp_path, CATALOG)
    assert first.returncode == 0, first.stderr
    assert "3 created, 0 updated" in first.stdout
    db = tmp_path / "a.db"
    assert stored(db, "SELECT key, name FROM achievements ORDER BY id") == [
        ("first-sale", "First Sale"),
        ("three-a-day", "Three deals a day"),
    ]
    assert stored(db, "SELECT title FROM quests") == [("Onboarding",)]
    again = load(tmp_path, CATALOG)
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 3 already as the file says" in again.stdout
    assert len(stored(db, "SELECT id FROM achievements")) == 2


def test_a_changed_achievement_is_updated_in_place(tmp_path):
    load(tmp_path, CATALOG)
    changed = load(tmp_path, CATALOG.replace("threshold: 3,", "threshold: 5,"))
    assert changed.returncode == 0, changed.stderr
    assert "three-a-day updated" in changed.stdout and "0 created, 1 updated" in changed.stdout
    (requirements,) = stored(
        tmp_path / "a.db", "SELECT requirements FROM achievements WHERE key = 'three-a-day'"
    )[0]
    assert json.loads(requirements)[0]["threshold"] == 5


def test_dry_run_changes_nothing(tmp_path):
    result = load(tmp_path, CATALOG, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would be created" in result.stdout
    assert stored(tmp_path / "a.db", "SELECT id FROM achievements") == []


def test_json_files_load_too(tmp_path):
    body = {"achievements": [{"key": "k", "name": "From JSON"}]}
    result = load(tmp_path, json.dumps(body), name="catalog.json")
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path / "a.db", "SELECT name FROM achievements") == [("From JSON",)]


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("achievements: [{name: No key}]", 2, "achievements[0] needs a `key`"),
        ("badges: []", 2, "unknown section 'badges'"),
        ("achievements: {key: x}", 2, "`achievements` must be a list"),
        ("achievements: [{key: a, name: A}, {key: a, name: B}]", 2, "appears twice"),
        ("a: [unclosed", 2, "neither YAML nor JSON"),
        (
            "achievements: [{key: x, name: X, requirements: [{metric: m, operator: bogus}]}]",
            1,
            "achievements[0]: 422",
        ),
    ],
)
def test_a_bad_file_is_refused_with_where_and_why(tmp_path, text, code, message):
    result = load(tmp_path, text)
    assert result.returncode == code
    assert message in " ".join(result.stderr.split()), result.stderr


@pytest.mark.live
def test_load_into_a_running_server(tmp_path, free_port):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    with serving(tmp_path, free_port) as (base, lines):
        token = printed_token(lines)
        result = invoke("load", "catalog.yaml", "--url", base, "--token", token, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        listed = httpx.get(f"{base}/api/achievements", headers={"Authorization": f"Bearer {token}"})
        assert {a["key"] for a in listed.json()} == {"first-sale", "three-a-day"}
