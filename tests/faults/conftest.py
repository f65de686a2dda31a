"""Real `accolade serve` processes for fault tests (`tests/nodes.py`): started as an operator
starts them, killed with SIGKILL by their own process id, restarted on the same database and
port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import fresh_postgres_database
from tests.nodes import ADMIN, SECRET, Node, started

__all__ = ["ADMIN", "SECRET", "Node", "started"]


@pytest.fixture
async def cluster_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test's nodes, dropped at the end."""
    async with fresh_postgres_database("accolade_faults") as url:
        yield url
