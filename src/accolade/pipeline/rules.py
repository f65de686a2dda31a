"""Achievement rules, indexed by the metrics they read, cached per node.

Every change to an achievement bumps a version in the database (in the same transaction); each
event reads that one row and reloads the rules only when it moved, so all nodes agree without
re-reading every achievement on every event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accolade.domain.achievements import Operator, Requirement, Timeframe, TimeUnit
from accolade.storage import versions
from accolade.storage.models import Achievement, InstanceSetting

RULES_VERSION_KEY = "rules_version"


@dataclass(frozen=True, slots=True)
class Rule:
    achievement_id: int
    name: str
    description: str
    icon: str | None
    rarity: str
    secret: bool
    points: int
    requirements: tuple[Requirement, ...]
    rewards: tuple[dict[str, Any], ...]


def ladder_step(rule: Rule) -> Requirement | None:
    """The requirement of a rule that a ladder serves: one untimed "at least" (gt or gte)."""
    if len(rule.requirements) != 1:
        return None
    (requirement,) = rule.requirements
    if requirement.timeframe is not None or requirement.operator not in _UP:
        return None
    return requirement


_UP = frozenset({Operator.GT, Operator.GTE})


@dataclass
class Ladder:
    """The rules on one metric that hold from a threshold up ("revenue at least 5,000"), by
    threshold: an event finds the ones it reached and the next ones up by bisection, instead
    of checking every rule on the metric."""

    thresholds: list[float] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


@dataclass
class RuleIndex:
    version: str | None = None
    by_metric: dict[str, list[Rule]] = field(default_factory=dict)
    rules: dict[int, Rule] = field(default_factory=dict)
    # metric -> its ladder rules; `general` holds every other rule reading the metric.
    ladders: dict[str, Ladder] = field(default_factory=dict)
    general: dict[str, list[Rule]] = field(default_factory=dict)

    def for_metrics(self, metrics: set[str]) -> list[Rule]:
        """The rules that read any of `metrics`, each once, by achievement id."""
        return _unique(rule for metric in metrics for rule in self.by_metric.get(metric, ()))

    def general_for(self, metrics: set[str]) -> list[Rule]:
        """The rules reading any of `metrics` that no ladder serves, each once, by id."""
        return _unique(rule for metric in metrics for rule in self.general.get(metric, ()))

    def index(self) -> None:
        """Sort each metric's rules into its ladder or its general list."""
        self.ladders, self.general = {}, {}
        for metric, rules in self.by_metric.items():
            steps = sorted(
                (step.threshold, rule.achievement_id, rule)
                for rule in rules
                if (step := ladder_step(rule)) is not None
            )
            if steps:
                self.ladders[metric] = Ladder([t for t, _, _ in steps], [r for _, _, r in steps])
            self.general[metric] = [r for r in rules if ladder_step(r) is None]


def _unique(rules: Iterable[Rule]) -> list[Rule]:
    found = {rule.achievement_id: rule for rule in rules}
    return [found[key] for key in sorted(found)]


def requirement_of(raw: dict[str, Any]) -> Requirement:
    timeframe = raw.get("timeframe")
    return Requirement(
        metric=str(raw["metric"]),
        operator=Operator(raw["operator"]),
        threshold=float(raw["threshold"]),
        timeframe=(
            Timeframe(int(timeframe["duration"]), TimeUnit(timeframe["unit"]))
            if timeframe
            else None
        ),
    )


def rule_of(achievement: Achievement) -> Rule:
    return Rule(
        achievement_id=achievement.id,
        name=achievement.name,
        description=achievement.description or "",
        icon=achievement.icon,
        rarity=achievement.rarity,
        secret=achievement.secret,
        points=achievement.points,
        requirements=tuple(requirement_of(r) for r in achievement.requirements),
        rewards=tuple(achievement.rewards),
    )


async def bump_version(session: AsyncSession) -> None:
    """Mark the rules changed; call in the transaction that changes an achievement."""
    await versions.bump(session, RULES_VERSION_KEY)


class Rules:
    """The node's cached index; `current(session)` is what an event evaluates against."""

    def __init__(self) -> None:
        self._index = RuleIndex()

    async def current(self, session: AsyncSession) -> RuleIndex:
        version = await session.scalar(
            select(InstanceSetting.value).where(InstanceSetting.key == RULES_VERSION_KEY)
        )
        if version is None or version != self._index.version:
            self._index = await self._load(session, version)
        return self._index

    async def _load(self, session: AsyncSession, version: str | None) -> RuleIndex:
        achievements = (
            await session.scalars(select(Achievement).where(Achievement.is_enabled.is_(True)))
        ).all()
        index = RuleIndex(version=version)
        by_metric: dict[str, list[Rule]] = defaultdict(list)
        for achievement in achievements:
            if not achievement.requirements:
                continue  # awarded by hand only
            rule = rule_of(achievement)
            index.rules[rule.achievement_id] = rule
            for metric in {r.metric for r in rule.requirements}:
                by_metric[metric].append(rule)
        index.by_metric = dict(by_metric)
        index.index()
        return index
