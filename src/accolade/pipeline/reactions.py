"""Reactions: what some event types do besides moving metrics, registered with the engine in
`app.py` (`Engine.reactions`). Each runs inside the event's transaction, after its metrics, XP
and streak moved and before its rules are evaluated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain import celebrations, notices, rooms
from accolade.pipeline import rules as rules_module
from accolade.pipeline.award import award
from accolade.pipeline.broadcaster import Broadcaster
from accolade.pipeline.commands import Applied
from accolade.pipeline.evaluate import unlocked
from accolade.storage import achievements as achievements_repo
from accolade.storage.models import User
from accolade.storage.outbox import add_room_event

QUIZ_MASTERY_KEY = "quiz-mastery"


class QuizCompleted:
    """Seed 000/001: `quiz:completed` to the user's room, and a perfect quiz earns the Quiz
    Mastery badge, once. The achievement is made on first need (key `quiz-mastery`), so a host
    can rename it, give it rewards or list it."""

    types = frozenset({"quiz.completed"})

    def __init__(self, broadcaster: Broadcaster) -> None:
        self.broadcaster = broadcaster

    async def react(self, session: AsyncSession, event: Applied) -> None:
        data = event.command.data or {}
        user = event.user
        add_room_event(
            session,
            rooms.user(user.external_id),
            notices.QUIZ_COMPLETED,
            notices.QUIZ_COMPLETED(
                user_id=user.external_id,
                quiz_id=data.get("quizId"),
                score=data.get("score"),
                max_score=data.get("maxScore"),
                xp=event.meaning.xp,
                perfect=event.meaning.perfect_quiz,
                timestamp=event.received_at,
            ),
        )
        if not event.meaning.perfect_quiz:
            return
        achievement = await achievements_repo.ensure_by_key(
            session,
            QUIZ_MASTERY_KEY,
            name="Quiz Mastery",
            description="Scored 100% on a quiz",
            type="SKILL",
            icon="🧠",
            rarity="rare",
            requirements=[],
            rewards=[],
            meta={},
        )
        _, awarded = await award(session, self.broadcaster, user, rules_module.rule_of(achievement))
        if awarded is not None:
            event.state.unlocked.add(awarded.achievement_id)
            event.body["unlocked"].append(unlocked(awarded))
            event.body["celebrations"].append(celebrations.badge_title(awarded.name))


class ProblemSolved:
    """Seed 003: a solved problem is announced to that problem's subscribers (`announce` is the
    contests feature's, given in `app.py`)."""

    types = frozenset({"problem.solved"})

    def __init__(
        self, announce: Callable[[AsyncSession, User, dict[str, Any], int, datetime], None]
    ) -> None:
        self.announce = announce

    async def react(self, session: AsyncSession, event: Applied) -> None:
        data = event.command.data or {}
        self.announce(session, event.user, data, event.meaning.xp, event.received_at)
