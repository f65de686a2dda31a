"""Room names: who hears a real-time event. One constructor per kind of room, used by whatever
sends to a room and whatever admits a client to one (`realtime.access`), so the two agree.

Ids are compared as text (`identity.user_key`): `user:42` is the room of user `42` and `"42"`.
"""

from __future__ import annotations

from accolade.domain.identity import UserId, user_key

TV_DISPLAY = "tv-display"  # the office screens: public celebrations, boards, contests

USER_PREFIX = "user:"
TEAM_PREFIX = "team:"
CONTEST_PREFIX = "contest:"
PROBLEM_PREFIX = "problem:"

# Rooms whose history anyone with a display token may read.
PUBLIC_PREFIXES = (TV_DISPLAY, CONTEST_PREFIX, PROBLEM_PREFIX)


def user(user_id: UserId) -> str:
    """The user's own screens (their toasts, XP bar, quests)."""
    return f"{USER_PREFIX}{user_key(user_id)}"


def team(team_id: UserId) -> str:
    return f"{TEAM_PREFIX}{user_key(team_id)}"


def contest(contest_id: UserId) -> str:
    return f"{CONTEST_PREFIX}{user_key(contest_id)}"


def problem(problem_id: UserId) -> str:
    """Seed 003's problem subscribers (`problem:subscribe`)."""
    return f"{PROBLEM_PREFIX}{user_key(problem_id)}"


def is_user_room(room: str) -> bool:
    return room.startswith(USER_PREFIX)
