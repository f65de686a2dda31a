"""What route handlers receive: the services and the caller, declared once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accolade.auth import read_token
from accolade.bus.relay import Relay
from accolade.config import Settings
from accolade.domain.errors import InvalidInput, Unauthorized
from accolade.domain.identity import Principal, Role, UserId
from accolade.pipeline.intake import Engine
from accolade.realtime.gateway import Gateway
from accolade.realtime.history import History
from accolade.realtime.registry import Registry
from accolade.services.achievements import AchievementService
from accolade.services.anti_cheat import AntiCheat
from accolade.services.contests import ContestService
from accolade.services.leaderboards import LeaderboardService
from accolade.services.notifications import NotificationService
from accolade.services.profiles import ProfileService
from accolade.services.quests import QuestService
from accolade.services.recompute import RecomputeService
from accolade.services.rewards import RewardService
from accolade.services.sales import SalesService
from accolade.services.simulate import SimulateService
from accolade.services.teams import TeamService
from accolade.services.training import TrainingService
from accolade.services.users import UserService
from accolade.storage import audit
from accolade.storage.database import Database


@dataclass
class Services:
    """Everything a request may call, built once per app in `create_app`."""

    settings: Settings
    database: Database
    jwt_secret: str
    users: UserService
    achievements: AchievementService
    notifications: NotificationService
    history: History
    registry: Registry
    gateway: Gateway
    relay: Relay
    engine: Engine
    anti_cheat: AntiCheat
    training: TrainingService
    quests: QuestService
    rewards: RewardService
    profiles: ProfileService
    leaderboards: LeaderboardService
    sales: SalesService
    teams: TeamService
    contests: ContestService
    recompute: RecomputeService
    simulate: SimulateService


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="A token from `accolade token`.")
# The bearer token as sent, if any, for routes that decide for themselves whether they need one.
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("send `Authorization: Bearer <token>` (make one with `accolade token`)")
    principal = read_token(services.jwt_secret, credentials.credentials)
    # Who the audit log names for the changes this request makes (same task and context as the
    # endpoint: FastAPI awaits async dependencies in it).
    audit.act_as(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def admin_or_service(principal: CurrentPrincipal) -> Principal:
    principal.require_role(Role.ADMIN, Role.SERVICE)
    return principal


async def admin_only(principal: CurrentPrincipal) -> Principal:
    principal.require_role(Role.ADMIN)
    return principal


async def not_display(principal: CurrentPrincipal) -> Principal:
    principal.require_role(Role.ADMIN, Role.SERVICE, Role.USER)
    return principal


Privileged = Annotated[Principal, Depends(admin_or_service)]
Admin = Annotated[Principal, Depends(admin_only)]
Reader = Annotated[Principal, Depends(not_display)]


async def public_reader(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """What a TV screen may read: any token (`display` included), or none at all while
    `ACCOLADE_PUBLIC_DISPLAY` is on (None then: an anonymous screen)."""
    if credentials is None:
        if services.settings.public_display:
            return None
        raise Unauthorized("send `Authorization: Bearer <token>` (ACCOLADE_PUBLIC_DISPLAY is off)")
    return read_token(services.jwt_secret, credentials.credentials)


# Leaderboards and contests, as the TV display reads them.
PublicReader = Annotated[Principal | None, Depends(public_reader)]


def secret_viewer(principal: Principal) -> str | None:
    """The user from whom secret achievements are hidden until unlocked (None: hide nothing)."""
    return principal.subject if principal.role is Role.USER else None


_INT_SUBJECT = re.compile(r"^-?[1-9][0-9]{0,17}$|^0$")


def acting_user(principal: Principal, user_id: UserId | None) -> UserId:
    """The user a call acts for: `user_id` when given (a user token: only its own), else the
    user token's own user. Admin and service tokens must name one. A subject of plain digits
    names an integer id (`"42"` -> 42), as host applications put their integer ids in `sub`."""
    if user_id is not None:
        principal.require_user(user_id)
        return user_id
    if principal.role is not Role.USER:
        raise InvalidInput(
            "name the user: `userId` is required with an admin or service token",
            details=[{"field": "userId", "message": "Field required"}],
        )
    subject = principal.subject
    return int(subject) if _INT_SUBJECT.match(subject) else subject
