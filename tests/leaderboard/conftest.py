"""The live-server fixture of the real-time tests, for the team-room tests here; under pytest-xdist,
a Redis database number of each worker's own for the store tests."""

import os
from urllib.parse import urlsplit, urlunsplit

from tests.realtime.conftest import live  # noqa: F401


def _worker_database(url: str, worker: int) -> str:
    """`url` with the database number of xdist worker `worker`: the given number for the first,
    then those after it, then those before it down to 1 (0 is the bus tests' database)."""
    parts = urlsplit(url)
    first = int(parts.path.strip("/") or 0)
    numbers = [*range(first, 16), *range(first - 1, 0, -1)]
    return urlunsplit(parts._replace(path=f"/{numbers[worker % len(numbers)]}"))


# test_stores.py FLUSHDBs its database, which would wipe the boards of a test running meanwhile
# in another worker. It reads the variable when it is imported, after this file.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... under pytest-xdist
if _WORKER.startswith("gw"):
    os.environ["ACCOLADE_TEST_LEADERBOARD_REDIS_URL"] = _worker_database(
        os.environ.get("ACCOLADE_TEST_LEADERBOARD_REDIS_URL", "redis://127.0.0.1:6379/13"),
        int(_WORKER[2:]),
    )
