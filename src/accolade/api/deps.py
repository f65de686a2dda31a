"""What route handlers receive: the services and the caller, declared once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accolade.auth import read_token
from accolade.bus.relay import Relay
from accolade.config import Settings
from accolade.domain.errors import Unauthorized
from accolade.domain.identity import Principal, Role
from accolade.realtime.gateway import Gateway
from accolade.realtime.history import History
from accolade.realtime.registry import Registry
from accolade.services.achievements import AchievementService
from accolade.services.anti_cheat import AntiCheat
from accolade.services.engine import Engine
from accolade.services.notifications import NotificationService
from accolade.services.training import TrainingService
from accolade.services.users import UserService
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


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="A token from `accolade token`.")


def current_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("send `Authorization: Bearer <token>` (make one with `accolade token`)")
    return read_token(services.jwt_secret, credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def admin_or_service(principal: CurrentPrincipal) -> Principal:
    principal.require_role(Role.ADMIN, Role.SERVICE)
    return principal


def admin_only(principal: CurrentPrincipal) -> Principal:
    principal.require_role(Role.ADMIN)
    return principal


def not_display(principal: CurrentPrincipal) -> Principal:
    principal.require_role(Role.ADMIN, Role.SERVICE, Role.USER)
    return principal


Privileged = Annotated[Principal, Depends(admin_or_service)]
Admin = Annotated[Principal, Depends(admin_only)]
Reader = Annotated[Principal, Depends(not_display)]


def secret_viewer(principal: Principal) -> str | None:
    """The user from whom secret achievements are hidden until unlocked (None: hide nothing)."""
    return principal.subject if principal.role is Role.USER else None
