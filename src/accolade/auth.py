"""Signed tokens (HS256 JWT): issuing them for the CLI, reading them for every transport."""

from __future__ import annotations

import functools
import secrets
import time
from datetime import UTC, datetime, timedelta

import jwt

from accolade.domain.errors import Unauthorized
from accolade.domain.identity import Principal, Role

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


def generate_secret() -> str:
    return secrets.token_urlsafe(48)


def issue_token(secret: str, subject: str, role: Role, ttl_s: int | None) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {"sub": subject, "role": role.value, "iat": now}
    if ttl_s is not None:
        claims["exp"] = now + timedelta(seconds=ttl_s)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> Principal:
    """The principal a token names; Unauthorized with the reason when it is not valid."""
    principal, expires_at = _verified(secret, token)
    if expires_at is not None and expires_at <= time.time():
        raise Unauthorized("the token has expired")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Principal, float | None]:
    """A valid token's principal and expiry, remembered: a client sends the same token with every
    request, and checking its signature again costs more than the rest of the request's auth.
    Invalid tokens raise (and are not remembered); expiry is checked on every use."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "role"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"the token is not valid: {exc}") from exc
    subject, role = claims.get("sub"), claims.get("role")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("the token's `sub` must be a non-empty string")
    expires_at = claims.get("exp")
    try:
        principal = Principal(subject=subject, role=Role(str(role)))
    except ValueError as exc:
        raise Unauthorized(
            f"the token's role {role!r} is not one of admin, service, user, display"
        ) from exc
    return principal, float(expires_at) if isinstance(expires_at, int | float) else None
