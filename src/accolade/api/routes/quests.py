"""`/api/quests`: seed 002's quests: ordered steps, runs per user, rewards on completion."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, field_validator
from pydantic_core.core_schema import ValidationInfo

from accolade.api.deps import Privileged, Reader, ServicesDep, acting_user
from accolade.api.schemas import (
    INT32_MAX,
    OWN_USER_OR_NAMED,
    VISIBLE,
    Bool,
    Description,
    Instant,
    JsonObject,
    Name,
    RequirementIn,
    RewardIn,
    Schema,
    StrictSchema,
    UserIdIn,
    json_integer,
    trim,
    user_id_query,
)
from accolade.pipeline.quests import ProgressView
from accolade.services.quests import shown

router = APIRouter(prefix="/api/quests", tags=["quests"])

QuestId = Annotated[int, Path(ge=1, le=INT32_MAX, description="The quest's id.")]
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
StepIdPath = Annotated[str, Path(pattern=STEP_ID_PATTERN, description="The step's id.")]
UserIdQuery = Annotated[
    str | None,
    user_id_query(f"Whose run: {OWN_USER_OR_NAMED}"),
]
Label = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=VISIBLE), AfterValidator(trim)
]
MAX_TIME_LIMIT_S = 10 * 366 * 24 * 3600


class QuestStepIn(StrictSchema):
    id: Annotated[str, StringConstraints(pattern=STEP_ID_PATTERN)] | None = Field(
        None, description="Letters, digits, `_.-`; `step-{position}` when left out."
    )
    title: Name
    description: Description = ""
    order: (
        Annotated[int, Field(ge=-1_000_000, le=1_000_000), BeforeValidator(json_integer)] | None
    ) = Field(
        None, description="Steps run by `order`; defaults to the step's position (1, 2, ...)."
    )
    requirements: list[RequirementIn] = Field(default_factory=list, max_length=50)
    rewards: list[RewardIn] = Field(default_factory=list, max_length=50)
    is_optional: Bool = False


class QuestIn(Schema):
    title: Name
    description: Description = ""
    type: Label = Field("STANDARD", description="Free text, e.g. DAILY, WEEKLY, STORY.")
    difficulty: Label = Field("MEDIUM", description="Free text, e.g. EASY, MEDIUM, HARD.")
    steps: list[QuestStepIn] = Field(
        min_length=1,
        max_length=100,
        description="Step ids and orders are unique, and at least one step is not optional "
        "(422 otherwise).",
    )
    rewards: list[RewardIn] = Field(default_factory=list, max_length=50)
    requirements: list[RequirementIn] = Field(
        default_factory=list,
        max_length=50,
        description="Prerequisites checked at start against the user's all-time values.",
    )
    time_limit: (
        Annotated[int, Field(ge=1, le=MAX_TIME_LIMIT_S), BeforeValidator(json_integer)] | None
    ) = Field(None, description="Seconds from each user's start until the run expires.")
    start_date: Instant | None = None
    end_date: Instant | None = Field(None, description="After `startDate` (422 otherwise).")
    is_active: Bool = True
    metadata: JsonObject = Field(default_factory=dict)

    @field_validator("steps")
    @classmethod
    def _steps_ordered(cls, steps: list[QuestStepIn]) -> list[QuestStepIn]:
        """Fill in ids and orders, refuse clashes, and sort by order."""
        taken = {step.id for step in steps if step.id is not None}
        for position, step in enumerate(steps, start=1):
            if step.order is None:
                step.order = position
            if step.id is None:
                candidate, n = f"step-{position}", position
                while candidate in taken:
                    n += len(steps)
                    candidate = f"step-{n}"
                step.id = candidate
                taken.add(candidate)
        ids = [step.id for step in steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must be unique")
        orders = [step.order for step in steps]
        if len(set(orders)) != len(orders):
            raise ValueError("step orders must be unique (steps run in `order`)")
        if all(step.is_optional for step in steps):
            raise ValueError("a quest needs at least one step that is not optional")
        return sorted(steps, key=lambda step: step.order or 0)

    @field_validator("end_date")
    @classmethod
    def _ends_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start_date")
        if end is not None and start is not None and end <= start:
            raise ValueError("must be after startDate")
        return end

    def as_model_fields(self) -> dict[str, Any]:
        """Model attributes; nested steps, rewards and requirements as the API shows them."""
        data = self.model_dump(mode="json", by_alias=True)
        return {
            "title": self.title,
            "description": self.description,
            "type": self.type,
            "difficulty": self.difficulty,
            "steps": data["steps"],
            "rewards": data["rewards"],
            "requirements": data["requirements"],
            "time_limit_s": self.time_limit,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "is_active": self.is_active,
            "meta": self.metadata,
        }


class ActIn(Schema):
    user_id: UserIdIn | None = Field(
        None, description="Whose run: required with an admin or service token."
    )


class QuestOut(Schema):
    id: int
    title: str
    description: str
    type: str
    difficulty: str
    steps: list[dict[str, Any]]
    rewards: list[dict[str, Any]]
    requirements: list[dict[str, Any]]
    time_limit: int | None
    start_date: datetime | None
    end_date: datetime | None
    is_active: bool
    metadata: Any
    created_at: datetime
    updated_at: datetime


class QuestProgressOut(Schema):
    quest_id: int
    user_id: int | str
    status: str
    current_step: int = Field(
        description="0-based position of the first open required step (the step count when done)"
    )
    current_step_id: str | None
    completed_steps: list[str]
    step_progress: dict[str, float] = Field(description="Per step, 0.0 to 1.0")
    progress: float = Field(description="Share of the required steps complete, 0.0 to 1.0")
    started_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None


class ActiveQuestOut(QuestOut):
    status: str | None = Field(description="The user's status; null when no user was named")
    progress: QuestProgressOut | None


def _progress_out(view: ProgressView) -> QuestProgressOut:
    return QuestProgressOut(
        quest_id=view.quest_id,
        user_id=view.user_id,
        status=view.status.value,
        current_step=view.current_step,
        current_step_id=view.current_step_id,
        completed_steps=view.completed_steps,
        step_progress=view.step_progress,
        progress=view.progress,
        started_at=view.started_at,
        completed_at=view.completed_at,
        expires_at=view.expires_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=QuestOut,
    summary="Create a quest: ordered steps with requirements and rewards, dates, a time limit",
)
async def create_quest(body: QuestIn, services: ServicesDep, _: Privileged) -> QuestOut:
    quest = await services.quests.create(body.as_model_fields())
    return QuestOut.model_validate(shown(quest))


@router.get(
    "",
    response_model=list[QuestOut],
    summary="Every quest, active or not, by id (what `accolade load` compares a file with)",
)
async def list_quests(services: ServicesDep, _: Reader) -> list[QuestOut]:
    return [QuestOut.model_validate(shown(quest)) for quest in await services.quests.list_all()]


# Declared before `/{quest_id}`, which would otherwise take `active` for an id.
@router.get(
    "/active",
    response_model=list[ActiveQuestOut],
    summary="Active quests open now, by id, each with the user's run (a user token: its own)",
)
async def active_quests(
    services: ServicesDep, principal: Reader, user_id: UserIdQuery = None
) -> list[ActiveQuestOut]:
    who = None if user_id is None and principal.is_privileged else acting_user(principal, user_id)
    listed = await services.quests.active(who)
    return [
        ActiveQuestOut.model_validate(
            {
                **shown(quest),
                "status": view.status.value if view is not None else None,
                "progress": _progress_out(view) if view is not None else None,
            }
        )
        for quest, view in listed
    ]


@router.get("/{quest_id}", response_model=QuestOut, summary="One quest")
async def get_quest(quest_id: QuestId, services: ServicesDep, _: Reader) -> QuestOut:
    return QuestOut.model_validate(shown(await services.quests.get(quest_id)))


@router.post(
    "/{quest_id}/start",
    response_model=QuestProgressOut,
    summary=(
        "Start the quest for `userId` (a user token: itself, no body needed). 409 outside its "
        "dates, when inactive, when its requirements do not hold, while IN_PROGRESS and once "
        "COMPLETED; an EXPIRED or FAILED run starts afresh"
    ),
)
async def start_quest(
    quest_id: QuestId, services: ServicesDep, principal: Reader, body: ActIn | None = None
) -> QuestProgressOut:
    user_id = acting_user(principal, body.user_id if body is not None else None)
    return _progress_out(await services.quests.start(user_id, quest_id))


@router.post(
    "/{quest_id}/steps/{step_id}/complete",
    response_model=QuestProgressOut,
    summary=(
        "Complete a step of the user's run (a user token: its own, and only once the step's "
        "requirements hold). 409 before the required steps ahead of it, twice, or when the run "
        "is not IN_PROGRESS; the last required step completes the quest"
    ),
)
async def complete_step(
    quest_id: QuestId,
    step_id: StepIdPath,
    services: ServicesDep,
    principal: Reader,
    body: ActIn | None = None,
) -> QuestProgressOut:
    user_id = acting_user(principal, body.user_id if body is not None else None)
    view = await services.quests.complete_step(
        user_id, quest_id, step_id, check_requirements=not principal.is_privileged
    )
    return _progress_out(view)


@router.post(
    "/{quest_id}/abandon",
    response_model=QuestProgressOut,
    summary=(
        "Give up the user's run (a user token: its own): it becomes FAILED and may be started "
        "afresh. 409 when the run is not IN_PROGRESS"
    ),
)
async def abandon_quest(
    quest_id: QuestId, services: ServicesDep, principal: Reader, body: ActIn | None = None
) -> QuestProgressOut:
    user_id = acting_user(principal, body.user_id if body is not None else None)
    return _progress_out(await services.quests.abandon(user_id, quest_id))


@router.get(
    "/{quest_id}/progress",
    response_model=QuestProgressOut,
    summary="The user's run: NOT_STARTED before a start, EXPIRED once past its deadline",
)
async def quest_progress(
    quest_id: QuestId, services: ServicesDep, principal: Reader, user_id: UserIdQuery = None
) -> QuestProgressOut:
    who = acting_user(principal, user_id)
    return _progress_out(await services.quests.progress(who, quest_id))
