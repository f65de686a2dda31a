"""Who is asking: roles, principals, and the host application's user ids."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from accolade.domain.errors import Forbidden

UserId = int | str


class Role(StrEnum):
    ADMIN = "admin"  # everything
    SERVICE = "service"  # ingest and act for any user
    USER = "user"  # only itself
    DISPLAY = "display"  # public rooms only


def user_key(user_id: UserId) -> str:
    """The id as stored and compared: `123` and `"123"` name the same user."""
    return str(user_id)


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role

    @property
    def is_privileged(self) -> bool:
        return self.role in (Role.ADMIN, Role.SERVICE)

    def may_act_for(self, user_id: UserId) -> bool:
        if self.is_privileged:
            return True
        return self.role is Role.USER and self.subject == user_key(user_id)

    def require_user(self, user_id: UserId) -> None:
        if not self.may_act_for(user_id):
            raise Forbidden("this token may only reach its own user's data")

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise Forbidden(f"this needs a token with role {allowed} (this one is {self.role})")
