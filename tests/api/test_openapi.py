"""The OpenAPI document says what the server answers: every status, the one error envelope, real
success schemas, and the rules the server enforces.

The document is built from the routes and models alone (no database), so these tests read it
from an app that is never started; `/openapi.json` and `/docs` are fetched from a running one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accolade.api.schemas import JSON_SAFE_INT
from accolade.app import create_app
from accolade.config import Settings
from tests.conftest import TEST_SECRET, running

ERROR_REF = {"$ref": "#/components/schemas/Error"}
METHODS = {"get", "post", "put", "patch", "delete"}


def document(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'accolade.db'}",
            jwt_secret=TEST_SECRET,
            _env_file=None,  # type: ignore[call-arg]
            **settings,
        )
    )
    return app.openapi()


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return document(tmp_path_factory.mktemp("openapi"))


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def schema_of(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_every_error_response_is_the_error_envelope(spec):
    seen = 0
    for name, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                seen += 1
                assert response["content"]["application/json"]["schema"] == ERROR_REF, name
    assert seen > 300  # about six error statuses for each of the sixty operations


def test_the_error_schema_is_code_message_details(spec):
    error = spec["components"]["schemas"]["Error"]
    body = schema_of(spec, error["properties"]["error"]["$ref"])
    assert error["required"] == ["error"]
    assert set(body["required"]) == {"code", "message", "details"}


def test_422_is_the_envelope_not_fastapis_detail(spec):
    components = spec["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert "ValidationError" not in components
    with_422 = [op for _, op in operations(spec) if "422" in op["responses"]]
    assert len(with_422) > 50
    for operation in with_422:
        assert operation["responses"]["422"]["content"]["application/json"]["schema"] == ERROR_REF


@pytest.mark.parametrize(
    ("operation", "statuses"),
    [
        ("POST /api/events", {"400", "401", "403", "409", "413", "422", "429", "503"}),
        ("GET /api/achievements/{achievement_id}", {"401", "403", "404", "422", "503"}),
        ("DELETE /api/users/achievements/progress", {"401", "403", "404", "409", "422", "503"}),
        ("POST /api/users", {"200", "201", "400", "401", "403", "409", "413", "422", "503"}),
        ("PUT /api/teams/{team_id}/members/{user_id}", {"200", "201", "404", "409"}),
        ("GET /health", {"200", "503"}),
        ("GET /metrics", {"200", "401", "403", "404"}),
    ],
)
def test_operations_document_the_statuses_they_answer(spec, operation, statuses):
    documented = dict(operations(spec))[operation]["responses"]
    assert statuses <= set(documented), sorted(documented)


def test_every_token_taking_operation_documents_401_and_403(spec):
    for name, operation in operations(spec):
        if operation.get("security"):
            assert {"401", "403"} <= set(operation["responses"]), name


def test_every_api_operation_documents_503_with_retry_after(spec):
    for name, operation in operations(spec):
        if name.split(" ")[1].startswith("/api/"):
            headers = operation["responses"]["503"]["headers"]
            assert headers["Retry-After"]["required"] is True, name


def test_429_documents_retry_after(spec):
    with_429 = {name: op for name, op in operations(spec) if "429" in op["responses"]}
    assert {"POST /api/events", "POST /api/events/batch"} <= set(with_429)
    for operation in with_429.values():
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def _is_bare_object(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "array":
        return _is_bare_object(schema.get("items", {}))
    return "$ref" not in schema and "anyOf" not in schema and schema.get("type") != "string"


def test_no_success_answer_is_a_bare_object(spec):
    for name, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                content = response.get("content", {})
                assert content, f"{name} {status} has no schema"
                for media_type, body in content.items():
                    assert not _is_bare_object(body["schema"]), f"{name} {status} {media_type}"


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def test_no_constraint_is_lost_as_a_non_json_schema_keyword(spec):
    # Pydantic writes `gt`/`ge`/... as such when a constraint lands outside the type it bounds
    # (e.g. after a validator); JSON Schema ignores them, so the rule would go unstated.
    for path, node in _walk(spec["components"]):
        if "/properties/" in path and not path.endswith("/properties"):
            assert not {"gt", "ge", "lt", "le"} & set(node), path


def test_max_score_is_stated_greater_than_zero(spec):
    quiz = spec["components"]["schemas"]["QuizCompleteIn"]
    assert quiz["properties"]["maxScore"]["exclusiveMinimum"] == 0


def test_contest_end_after_start_is_stated(spec):
    for name in ("ContestIn", "ContestPatch"):
        described = spec["components"]["schemas"][name]["properties"]["endAt"]["description"]
        assert "after `startat`" in described.lower(), name


def test_user_ids_are_stated_as_json_safe_integers_or_strings(spec):
    user_id = spec["components"]["schemas"]["UserIn"]["properties"]["userId"]
    integer, string = user_id["anyOf"]
    assert integer == {"type": "integer", "minimum": -JSON_SAFE_INT, "maximum": JSON_SAFE_INT}
    assert string["type"] == "string" and string["minLength"] == 1


def test_a_names_visible_text_is_stated(spec):
    name = spec["components"]["schemas"]["DefinitionIn"]["properties"]["name"]
    assert name["pattern"] == r"\S" and name["maxLength"] == 255


def test_public_reads_take_no_token_while_public_display_is_on(spec, tmp_path):
    board = dict(operations(spec))["GET /api/leaderboards/{metric}"]
    assert {} in board["security"]
    private = dict(operations(document(tmp_path, public_display=False)))
    assert {} not in private["GET /api/leaderboards/{metric}"]["security"]
    assert {} not in dict(operations(spec))["POST /api/events"]["security"]


async def test_the_served_document_and_docs_page(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'accolade.db'}",
        jwt_secret=TEST_SECRET,
        _env_file=None,  # type: ignore[call-arg]
    )
    async with running(create_app(settings)) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            served = await client.get("/openapi.json")
            docs = await client.get("/docs")
    assert served.status_code == 200
    assert "Error" in served.json()["components"]["schemas"]
    assert docs.status_code == 200 and "swagger-ui" in docs.text
