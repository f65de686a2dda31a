"""Every event the server can send is in the namespace table, so no client waits for an event
that no namespace delivers (`quest:progress` and `player:rank-change` once were)."""

from __future__ import annotations

import ast
from pathlib import Path

import accolade
from accolade.domain import notices
from accolade.realtime import namespaces

SOURCE = Path(accolade.__file__).parent


def calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    found.append((path, node))
    return found


def test_every_room_event_queued_anywhere_is_a_defined_notice_that_a_namespace_carries() -> None:
    queued = calls("add_room_event")
    assert len(queued) >= 25  # the walk found the senders
    names = []
    for path, call in queued:
        notice = call.args[2]
        where = f"{path.relative_to(SOURCE)}:{call.lineno}"
        if path.name == "admin.py":  # an admin's own event, on the namespace the admin names
            continue
        assert isinstance(notice, ast.Attribute), where
        assert isinstance(notice.value, ast.Name), where
        assert notice.value.id == "notices", where
        names.append(notice.attr)
    sent = {getattr(notices, name) for name in names}
    for notice in sent:
        carried = [ns for ns, events in namespaces.EVENTS.items() if notice.name in events]
        assert carried, f"{notice.name} is sent but no namespace delivers it"
        assert set(carried) == set(notice.namespaces)


def test_every_defined_notice_is_sent_somewhere_and_every_namespace_carries_something() -> None:
    defined = {n.name for n in notices.ALL}
    queued = {
        getattr(notices, call.args[2].attr).name
        for _, call in calls("add_room_event")
        if isinstance(call.args[2], ast.Attribute)
    }
    assert defined == queued
    assert len(defined) == len(notices.ALL)  # names are unique
    for namespace in notices.NAMESPACES:
        assert namespaces.EVENTS[namespace]


def test_what_a_socket_is_answered_directly_is_a_reply_or_a_notice() -> None:
    emitted = set()
    for path, call in calls("emit"):
        if path.is_relative_to(SOURCE / "realtime") and call.args:
            first = call.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                emitted.add(first.value)
    assert "joined" in emitted and "error" in emitted
    assert emitted <= notices.REPLIES | set(notices.BY_NAME)


def test_a_payload_missing_a_field_its_notice_promises_is_refused_before_it_is_queued() -> None:
    assert notices.XP_GAINED.missing({"userId": 1, "amount": 5}) >= {"newTotal", "timestamp"}
    assert not notices.custom("bench:tick", notices.LEADERBOARD).missing({})
