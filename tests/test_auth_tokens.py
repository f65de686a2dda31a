"""Reading tokens: a valid token is remembered, but never past its expiry."""

from __future__ import annotations

import time

import pytest

from accolade.auth import issue_token, read_token
from accolade.domain.errors import Unauthorized
from accolade.domain.identity import Role

SECRET = "s" * 48


def test_a_remembered_token_is_refused_once_it_expires():
    token = issue_token(SECRET, "u-1", Role.USER, ttl_s=1)
    assert read_token(SECRET, token).subject == "u-1"
    assert read_token(SECRET, token).subject == "u-1"  # from memory
    time.sleep(1.1)
    with pytest.raises(Unauthorized, match="expired"):
        read_token(SECRET, token)


def test_a_token_signed_with_another_secret_is_refused_every_time():
    token = issue_token("t" * 48, "u-1", Role.ADMIN, ttl_s=60)
    for _ in range(2):
        with pytest.raises(Unauthorized, match="not valid"):
            read_token(SECRET, token)
