"""Schemathesis against the app's own OpenAPI document: the document describes the API it serves.

The app runs in-process (ASGI) with its lifespan, on a fresh SQLite file, once with an admin
token and once with a user token. Schemathesis runs every phase (examples, coverage, fuzzing,
stateful) and every check (server errors, undocumented statuses, response schemas and headers,
schema-valid data refused, schema-invalid data accepted, missing auth, undeclared methods, ...);
the run must end with no failure of any kind. It is bounded (a few examples per operation, a fixed
seed, deterministic generation) so that it takes about a minute here and finds the same things
on every run.

SQLite only: the document is built from the routes and their models, the same whichever database
answers; what differs by database behind each answer is covered by the other tests, on both.

Rules the server enforces that JSON Schema cannot state are written in the document's
descriptions, and a schema-valid request refused by one of them is not a failure here (see
`CROSS_FIELD_RULES`): each is named by the message the server gives for it, so any other refusal
still fails the run.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python import asgi

from accolade.app import create_app
from accolade.auth import issue_token
from accolade.config import Settings
from accolade.domain.identity import Role
from tests.conftest import TEST_SECRET

SEED = 18
EXAMPLES_PER_OPERATION = 2

# Refusals of schema-valid requests that the document states in words (a description), because
# JSON Schema cannot: they compare two fields, depend on the token's role, or on a setting.
CROSS_FIELD_RULES = [
    re.compile(rule)
    for rule in (
        r"must be after `?startAt",  # contests: `endAt`
        r"must be after startDate",  # quests: `endDate`
        r"step ids must be unique",  # quests
        r"step orders must be unique",  # quests
        r"needs at least one step that is not optional",  # quests
        r"^name the user",  # `userId`: required with an admin or service token, not a user's
        r"must not be negative",  # anti-cheat (`ACCOLADE_ANTI_CHEAT`, on by default)
        r"NUL character",  # no string anywhere may hold U+0000 (PostgreSQL cannot store it)
        r"unknown IANA time zone",  # `timeZone`: a name the tz database knows
        r"is not an? \w+ key",  # leaderboards: `periodKey` names a period of `period`
        r"give `at` or `periodKey`, not both",  # leaderboards
    )
]


def explained_by_a_stated_rule(failure: Any, response: Any) -> bool:
    """Whether a schema-valid request was refused (422) for one of `CROSS_FIELD_RULES` and for
    nothing else: each broken rule it lists, or the one its message names."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return False
    error = json.loads(response.content)["error"]
    details = error["details"] if isinstance(error["details"], list) else []
    reasons = [str(detail.get("message", "")) for detail in details]
    if len(reasons) <= 1:
        reasons = [error["message"] + " " + " ".join(reasons)]
    return all(any(rule.search(reason) for rule in CROSS_FIELD_RULES) for reason in reasons)


def schema_for(database_url: str, token: str) -> Any:
    app = create_app(Settings(database_url=database_url, jwt_secret=TEST_SECRET, _env_file=None))  # type: ignore[call-arg]
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True},
            "headers": {"Authorization": f"Bearer {token}"},
            "checks": {
                # A body over ACCOLADE_MAX_BODY_BYTES is refused with 413 (documented), before
                # it is read, whatever else is wrong with it.
                "negative_data_rejection": {
                    "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 422, 429]
                },
            },
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)

    @schema.hook
    def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
        return not explained_by_a_stated_rule(failure, response)

    return schema


def describe(event: events.ScenarioFinished, case_id: str, check: Any) -> str:
    failure = check.failure_info.failure
    case = event.recorder.cases[case_id].value
    interaction = event.recorder.interactions.get(case_id)
    answer = ""
    if interaction is not None and interaction.response is not None:
        answer = f" -> {interaction.response.status_code} {interaction.response.content[:300]!r}"
    body = "" if case.body is None or type(case.body).__name__ == "NotSet" else f" {case.body!r}"
    return (
        f"[{event.phase.value}] {check.name}: {failure.title}: {failure.message[:300]!r}\n"
        f"    {case.method} {case.formatted_path} {case.query or ''}{body[:300]}{answer}"
    )


def run(schema: Any) -> tuple[list[str], Counter[str], dict[str, float]]:
    """Every failure and error of one run, described; scenarios run and seconds per phase."""
    failures: list[str] = []
    scenarios: Counter[str] = Counter()
    seconds: dict[str, float] = {}
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.PhaseStarted):
                seconds[event.phase.name.value] = -time.perf_counter()
            elif isinstance(event, events.PhaseFinished):
                seconds[event.phase.name.value] += time.perf_counter()
            elif isinstance(event, events.ScenarioFinished):
                scenarios[event.phase.value] += 1
                if event.status in (Status.FAILURE, Status.ERROR):
                    failures += [
                        describe(event, case_id, check)
                        for case_id, checks in event.recorder.checks.items()
                        for check in checks
                        if check.failure_info is not None
                    ]
            elif isinstance(event, events.NonFatalError | events.FatalError):
                failures.append(f"error: {event.info if hasattr(event, 'info') else event!r}")
    finally:
        asgi.shutdown_lifespans()  # the app's lifespan, started by schemathesis' client
    return failures, scenarios, seconds


@pytest.mark.parametrize(("role", "subject"), [("admin", "fuzz-admin"), ("user", "42")])
def test_schemathesis_finds_no_failure(tmp_path: Path, role: str, subject: str) -> None:
    token = issue_token(TEST_SECRET, subject, Role(role), 3600)
    started = time.perf_counter()
    failures, scenarios, seconds = run(schema_for(f"sqlite:///{tmp_path / 'accolade.db'}", token))
    elapsed_s = time.perf_counter() - started
    phases = ", ".join(f"{name} {scenarios[name]} in {s:.0f} s" for name, s in seconds.items())
    print(f"\n{role}: {phases}; {elapsed_s:.0f} s in all, {len(failures)} failures")
    assert scenarios["coverage"] and scenarios["fuzzing"], scenarios  # it did run
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])
