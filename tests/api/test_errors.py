"""One error envelope `{"error": {"code", "message", "details"}}` for every failure, no 500.

Input that one database would take and the other would choke on (NUL, NaN, huge integers) is
refused before it reaches either, so those tests run on SQLite only: a check that went missing
fails there too (SQLite would store the value, or answer 500). The tests whose answer comes from
the database, a row found or not, a duplicate, a value stored and read back, run on both (`BOTH`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

DEFS = "/api/users/achievements/definitions"
PROGRESS = "/api/users/achievements/progress"
UNLOCK = "/api/users/achievements/progress/unlock"
ACHIEVEMENTS = "/api/achievements"
USERS = "/api/users"

ALLOWED_STATUSES = {400, 401, 403, 404, 405, 409, 413, 422, 429}
MIB = 1024 * 1024
HUGE = 99999999999999999999  # > 2**64: overflows every integer column

pytestmark = pytest.mark.backends("sqlite")
BOTH = pytest.mark.backends("sqlite", "postgresql")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the error envelope with this status and code; returns the `error` object."""
    assert response.status_code == status, response.text
    assert response.status_code in ALLOWED_STATUSES
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    return error


def fields(error: dict[str, Any]) -> set[str]:
    """The field names a validation error's `details` names."""
    details = error["details"]
    assert isinstance(details, list) and details, error
    for detail in details:
        assert isinstance(detail["field"], str)
        assert isinstance(detail["message"], str)
    return {detail["field"] for detail in details}


@pytest.fixture
async def achievement_id(client: httpx.AsyncClient, admin: dict[str, str]) -> int:
    response = await client.post(DEFS, json={"name": "Worker I"}, headers=admin)
    assert response.status_code == 201
    return int(response.json()["id"])


def post_raw(
    client: httpx.AsyncClient, url: str, content: bytes | str, headers: dict[str, str]
) -> Any:
    return client.post(
        url, content=content, headers={**headers, "Content-Type": "application/json"}
    )


def progress_body(achievement_id: int, **overrides: Any) -> dict[str, Any]:
    return {"userId": 42, "achievementId": achievement_id, **overrides}


# --- routing -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nope", "/nope", "/api/users/achievements/nope/1"])
async def test_unknown_route_is_404_not_found(client, admin, path):
    assert_error(await client.get(path, headers=admin), 404, "not_found")


async def test_unknown_route_is_404_even_without_a_token(client):
    assert_error(await client.get("/api/nope"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", DEFS, ["GET", "POST"]),
        ("DELETE", DEFS, ["GET", "POST"]),
        ("POST", f"{DEFS}/1", ["DELETE", "GET", "PUT"]),
        ("PUT", ACHIEVEMENTS, ["GET", "POST"]),
        ("POST", "/health", ["GET"]),
        ("PUT", PROGRESS, ["DELETE", "GET", "POST"]),
        ("PUT", "/api/events", ["POST"]),
        ("OPTIONS", f"{ACHIEVEMENTS}/1", ["DELETE", "GET", "PATCH"]),
    ],
)
async def test_wrong_method_on_a_real_path_is_405_with_every_allowed_method(
    client, admin, method, path, allowed
):
    response = await client.request(method, path, headers=admin)
    error = assert_error(response, 405, "method_not_allowed")
    assert error["details"]["allow"] == allowed
    allow = [m.strip() for m in response.headers["Allow"].split(",")]
    assert allow == allowed


async def test_wrong_method_is_405_before_the_token_is_checked(client):
    response = await client.request("PATCH", DEFS)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, POST"


@BOTH
async def test_unknown_achievement_id_is_404_not_found(client, admin):
    assert_error(await client.get(f"{ACHIEVEMENTS}/4242", headers=admin), 404, "not_found")


# --- bodies that are not JSON objects --------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    ['{"name": ', '{"name": "x",}', "{name: 'x'}", "not json", '{"name": "x"} trailing'],
)
async def test_malformed_json_is_400_malformed_json(client, admin, content):
    assert_error(await post_raw(client, DEFS, content, admin), 400, "malformed_json")


async def test_body_that_is_not_utf8_is_400_malformed_json(client, admin):
    response = await post_raw(client, DEFS, b'{"name": "\xff\xfe"}', admin)
    error = assert_error(response, 400, "malformed_json")
    assert "UTF-8" in error["message"]


@pytest.mark.parametrize("content", ["[]", '["name"]', '"Worker I"', "42", "true", "null"])
async def test_json_body_that_is_not_an_object_is_422(client, admin, content):
    assert_error(await post_raw(client, DEFS, content, admin), 422, "validation_error")


async def test_empty_body_is_422_naming_the_body(client, admin):
    error = assert_error(await post_raw(client, DEFS, b"", admin), 422, "validation_error")
    assert fields(error) == {"body"}


async def test_non_json_content_type_is_422(client, admin):
    response = await client.post(
        DEFS, content=b"name=Worker", headers={**admin, "Content-Type": "text/plain"}
    )
    assert_error(response, 422, "validation_error")


# --- missing fields and wrong types ----------------------------------------------------------


async def test_missing_required_field_is_422_naming_it(client, admin):
    response = await client.post(DEFS, json={"description": "no name"}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"name"}
    assert "name" in error["message"]


async def test_missing_progress_fields_are_all_named(client, admin):
    response = await client.post(PROGRESS, json={}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"userId", "achievementId"}


async def test_missing_query_parameter_is_422_naming_it(client, admin):
    response = await client.get(PROGRESS, params={"userId": "42"}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"achievementId"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 123}, "name"),
        ({"name": ["Worker I"]}, "name"),
        ({"name": {"en": "Worker I"}}, "name"),
        ({"name": None}, "name"),
        ({"name": "Worker I", "description": 5}, "description"),
        ({"name": "Worker I", "description": ["x"]}, "description"),
    ],
)
async def test_wrong_type_in_definition_is_422_naming_the_field(client, admin, body, field):
    error = assert_error(await client.post(DEFS, json=body, headers=admin), 422, "validation_error")
    assert field in fields(error)


@pytest.mark.parametrize("value", ["abc", 1.5, [1], {"id": 1}, None])
async def test_wrong_type_achievement_id_in_body_is_422(client, admin, value):
    response = await client.post(
        PROGRESS, json={"userId": 42, "achievementId": value}, headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert "achievementId" in fields(error)


async def test_non_numeric_path_id_is_422(client, admin):
    response = await client.get(f"{DEFS}/abc", headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"achievementId"}


async def test_non_boolean_unlocked_only_is_422(client, admin):
    response = await client.get(
        f"{PROGRESS}/list", params={"userId": "42", "unlockedOnly": "maybe"}, headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"unlockedOnly"}


@pytest.mark.parametrize("value", [True, False, 1.5, [42], {"id": 42}, None, "", 2.0**53])
async def test_user_id_of_the_wrong_type_is_422(client, admin, achievement_id, value):
    response = await client.post(
        PROGRESS, json=progress_body(achievement_id, userId=value), headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"userId"}


@BOTH
async def test_user_id_written_as_a_whole_float_is_that_integer(client, admin):
    # JSON has one number type: 42.0 is the integer 42 (as JSON Schema counts it), not 422.
    created = await client.post(USERS, json={"userId": 42.0, "userName": "Ada"}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["userId"] == 42 and isinstance(created.json()["userId"], int)
    again = await client.post(USERS, json={"userId": 42, "userName": "Ada L."}, headers=admin)
    assert again.status_code == 200, again.text  # the same user


@BOTH
async def test_integer_user_id_beyond_2_53_is_422_saying_send_a_string(client, admin):
    response = await client.post(USERS, json={"userId": 2**53}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"userId"}
    assert "as strings" in error["message"]
    as_text = await client.post(USERS, json={"userId": str(2**53)}, headers=admin)
    assert as_text.status_code == 201, as_text.text


@pytest.mark.parametrize("value", [True, 1.5])
async def test_user_id_of_the_wrong_type_on_create_user_is_422(client, admin, value):
    response = await client.post(USERS, json={"userId": value}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"userId"}


# --- sizes -------------------------------------------------------------------------------------


async def test_ten_kilobyte_name_is_422(client, admin):
    response = await client.post(DEFS, json={"name": "x" * 10_000}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"name"}


async def test_ten_kilobyte_user_name_is_422(client, admin):
    response = await client.post(USERS, json={"userId": 1, "userName": "x" * 10_000}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"userName"}


async def test_ten_kilobyte_user_id_is_422(client, admin, achievement_id):
    response = await client.post(
        PROGRESS, json=progress_body(achievement_id, userId="u" * 10_000), headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"userId"}


async def test_ten_kilobyte_user_id_in_path_is_422(client, admin):
    assert_error(
        await client.get(f"{USERS}/{'u' * 10_000}", headers=admin), 422, "validation_error"
    )


async def test_body_over_one_mib_with_content_length_is_413(client, admin):
    body = json.dumps({"name": "x", "description": "y" * (MIB + 10)})
    response = await post_raw(client, DEFS, body, admin)
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == {"maxBytes": MIB}


async def test_body_over_one_mib_without_content_length_is_413(client, admin):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "x", "description": "'
        for _ in range(20):
            yield b"y" * 65_536
        yield b'"}'

    request = client.build_request(
        "POST", DEFS, content=chunks(), headers={**admin, "Content-Type": "application/json"}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    error = assert_error(await client.send(request), 413, "payload_too_large")
    assert error["details"] == {"maxBytes": MIB}


async def test_body_over_one_mib_to_progress_metadata_is_413(client, admin, achievement_id):
    body = progress_body(achievement_id, metadata={"blob": "z" * (MIB + 1)})
    assert_error(await client.post(PROGRESS, json=body, headers=admin), 413, "payload_too_large")


@BOTH
async def test_body_just_under_the_limit_is_accepted(client, admin, achievement_id):
    body = progress_body(achievement_id, metadata={"blob": "z" * (MIB - 200)})
    response = await client.post(PROGRESS, json=body, headers=admin)
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["metadata"]["blob"]) == MIB - 200


# --- NUL: PostgreSQL cannot store it, so both databases refuse it ------------------------------


async def test_nul_in_definition_name_is_422(client, admin):
    response = await client.post(DEFS, json={"name": "Work\u0000er"}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"name"}


async def test_nul_in_definition_description_is_422(client, admin):
    response = await client.post(DEFS, json={"name": "W", "description": "\u0000"}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"description"}


async def test_nul_in_definition_name_on_update_is_422(client, admin, achievement_id):
    response = await client.put(f"{DEFS}/{achievement_id}", json={"name": "a\u0000"}, headers=admin)
    assert_error(response, 422, "validation_error")
    unchanged = await client.get(f"{DEFS}/{achievement_id}", headers=admin)
    assert unchanged.json()["name"] == "Worker I"


@pytest.mark.parametrize(
    "metadata",
    [
        {"note": "a\u0000b"},
        {"a\u0000b": 1},
        ["ok", {"deep": ["\u0000"]}],
        "\u0000",
    ],
)
async def test_nul_in_progress_metadata_is_422(client, admin, achievement_id, metadata):
    response = await client.post(
        PROGRESS, json=progress_body(achievement_id, metadata=metadata), headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert any(field.startswith("metadata") for field in fields(error))


async def test_nul_in_achievement_metadata_is_422(client, admin):
    body = {"name": "Explorer", "metadata": {"hint": "x\u0000"}}
    response = await client.post(ACHIEVEMENTS, json=body, headers=admin)
    assert_error(response, 422, "validation_error")


async def test_nul_in_user_id_in_body_is_422(client, admin, achievement_id):
    response = await client.post(
        PROGRESS, json=progress_body(achievement_id, userId="u\u00007"), headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"userId"}
    assert "NUL" in error["message"]


async def test_nul_in_user_id_on_create_user_is_422(client, admin):
    response = await client.post(USERS, json={"userId": "u\u00007"}, headers=admin)
    assert_error(response, 422, "validation_error")


async def test_nul_in_user_name_is_422(client, admin):
    response = await client.post(USERS, json={"userId": 7, "userName": "A\u0000"}, headers=admin)
    assert_error(response, 422, "validation_error")


async def test_nul_in_user_id_query_is_422(client, admin, achievement_id):
    response = await client.get(
        PROGRESS, params={"userId": "u\x007", "achievementId": achievement_id}, headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"userId"}


async def test_nul_in_user_id_path_is_422(client, admin):
    assert_error(await client.get(f"{USERS}/u%007", headers=admin), 422, "validation_error")


# --- lone surrogates: `\ud800` is JSON syntax, but no UTF-8 store or response can carry it ---


@pytest.mark.parametrize(
    "metadata",
    ['{"note": "\\ud800"}', '{"\\udfff": 1}', '["ok", ["\\ud83d"]]'],
    ids=["value", "key", "nested"],
)
async def test_lone_surrogate_in_progress_metadata_is_422(client, admin, achievement_id, metadata):
    content = f'{{"userId": 42, "achievementId": {achievement_id}, "metadata": {metadata}}}'
    error = assert_error(await post_raw(client, PROGRESS, content, admin), 422, "validation_error")
    assert fields(error) == {"metadata"}


async def test_lone_surrogate_in_achievement_metadata_is_422(client, admin):
    content = '{"name": "Explorer", "metadata": {"hint": "\\ud800"}}'
    assert_error(await post_raw(client, ACHIEVEMENTS, content, admin), 422, "validation_error")


@pytest.mark.parametrize(
    ("url", "content"),
    [
        (DEFS, '{"name": "a\\ud800"}'),
        (USERS, '{"userId": "u\\ud800"}'),
        (USERS, '{"userId": 1, "userName": "\\udfff"}'),
    ],
    ids=["definition-name", "user-id", "user-name"],
)
async def test_lone_surrogate_in_a_text_field_is_422(client, admin, url, content):
    assert_error(await post_raw(client, url, content, admin), 422, "validation_error")


@BOTH
async def test_surrogate_pair_escape_in_metadata_is_accepted(client, admin, achievement_id):
    trophy = '"\\ud83c\\udfc6"'
    content = f'{{"userId": 42, "achievementId": {achievement_id}, "metadata": {{"m": {trophy}}}}}'
    response = await post_raw(client, PROGRESS, content, admin)
    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == {"m": "\U0001f3c6"}


# --- numbers JSON cannot carry ------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
async def test_non_finite_number_in_progress_metadata_is_422(
    client, admin, achievement_id, literal
):
    content = f'{{"userId": 42, "achievementId": {achievement_id}, "metadata": {{"x": {literal}}}}}'
    error = assert_error(await post_raw(client, PROGRESS, content, admin), 422, "validation_error")
    assert any(field.startswith("metadata") for field in fields(error))


@pytest.mark.parametrize("literal", ["NaN", "Infinity"])
async def test_non_finite_number_in_achievement_metadata_is_422(client, admin, literal):
    content = f'{{"name": "Explorer", "metadata": {{"score": [{literal}]}}}}'
    assert_error(await post_raw(client, ACHIEVEMENTS, content, admin), 422, "validation_error")


@pytest.mark.parametrize("literal", ["NaN", "Infinity"])
async def test_non_finite_number_as_id_is_422(client, admin, literal):
    content = f'{{"userId": {literal}, "achievementId": {literal}}}'
    assert_error(await post_raw(client, PROGRESS, content, admin), 422, "validation_error")


@BOTH
async def test_huge_integer_in_metadata_round_trips(client, admin, achievement_id):
    metadata = {"big": 10**30, "negative": -(10**30)}
    response = await client.post(
        PROGRESS, json=progress_body(achievement_id, metadata=metadata), headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == metadata
    stored = await client.get(
        PROGRESS, params={"userId": "42", "achievementId": achievement_id}, headers=admin
    )
    assert stored.json()["metadata"] == metadata


async def test_integer_too_long_to_parse_is_400_malformed_json(client, admin, achievement_id):
    # Python refuses to parse integers of more than 4300 digits: a parse error, not a crash.
    content = f'{{"userId": 42, "achievementId": {achievement_id}, "metadata": {"9" * 5000}}}'
    assert_error(await post_raw(client, PROGRESS, content, admin), 400, "malformed_json")


@pytest.mark.parametrize(
    "path",
    [f"{DEFS}/{HUGE}", f"{ACHIEVEMENTS}/{HUGE}", f"{DEFS}/{2**31}", f"{DEFS}/-{HUGE}"],
)
async def test_huge_path_id_is_422(client, admin, path):
    assert_error(await client.get(path, headers=admin), 422, "validation_error")


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_huge_path_id_on_write_is_422(client, admin, method):
    response = await client.request(method, f"{DEFS}/{HUGE}", json={"name": "x"}, headers=admin)
    assert_error(response, 422, "validation_error")


async def test_huge_achievement_id_in_body_is_422(client, admin):
    response = await client.post(
        PROGRESS, json={"userId": 42, "achievementId": HUGE}, headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"achievementId"}


async def test_huge_achievement_id_in_query_is_422(client, admin):
    response = await client.get(
        PROGRESS, params={"userId": "42", "achievementId": str(HUGE)}, headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"achievementId"}


async def test_huge_integer_user_id_is_422(client, admin, achievement_id):
    response = await client.post(
        PROGRESS, json=progress_body(achievement_id, userId=HUGE), headers=admin
    )
    assert_error(response, 422, "validation_error")


async def test_huge_integer_user_id_on_create_user_is_422(client, admin):
    assert_error(
        await client.post(USERS, json={"userId": HUGE}, headers=admin), 422, "validation_error"
    )


async def test_huge_points_on_achievement_is_422(client, admin):
    body = {"name": "Explorer", "points": HUGE}
    assert_error(await client.post(ACHIEVEMENTS, json=body, headers=admin), 422, "validation_error")


@pytest.mark.parametrize("value", [0, -1])
async def test_zero_or_negative_path_id_is_422(client, admin, value):
    assert_error(await client.get(f"{DEFS}/{value}", headers=admin), 422, "validation_error")


@pytest.mark.parametrize("value", [0, -1])
async def test_zero_or_negative_achievement_id_in_body_is_422(client, admin, value):
    response = await client.post(
        PROGRESS, json={"userId": 42, "achievementId": value}, headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"achievementId"}


@pytest.mark.parametrize("value", ["0", "-5"])
async def test_zero_or_negative_achievement_id_in_query_is_422(client, admin, value):
    response = await client.get(
        PROGRESS, params={"userId": "42", "achievementId": value}, headers=admin
    )
    assert_error(response, 422, "validation_error")


@BOTH
async def test_progress_on_unknown_achievement_is_404(client, admin):
    response = await client.post(
        PROGRESS, json={"userId": 42, "achievementId": 4242}, headers=admin
    )
    assert_error(response, 404, "not_found")


@BOTH
async def test_unlock_of_unknown_achievement_is_404(client, admin):
    response = await client.put(UNLOCK, json={"userId": 42, "achievementId": 4242}, headers=admin)
    assert_error(response, 404, "not_found")


# --- nesting -----------------------------------------------------------------------------------


async def test_metadata_nested_a_hundred_levels_is_422(client, admin, achievement_id):
    nested: Any = "leaf"
    for _ in range(100):
        nested = [nested]
    response = await client.post(
        PROGRESS, json=progress_body(achievement_id, metadata=nested), headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert any(field.startswith("metadata") for field in fields(error))


async def test_achievement_metadata_nested_a_hundred_levels_is_422(client, admin):
    nested: Any = {}
    for _ in range(100):
        nested = {"a": nested}
    response = await client.post(
        ACHIEVEMENTS, json={"name": "Explorer", "metadata": nested}, headers=admin
    )
    assert_error(response, 422, "validation_error")


@BOTH
async def test_metadata_nested_a_few_levels_is_accepted(client, admin, achievement_id):
    nested: Any = {"leaf": True}
    for _ in range(10):
        nested = {"a": [nested]}
    response = await client.post(
        PROGRESS, json=progress_body(achievement_id, metadata=nested), headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == nested


@pytest.mark.parametrize("closed", [True, False], ids=["balanced", "unclosed"])
async def test_metadata_nested_a_hundred_thousand_levels_is_400_malformed_json(
    client, admin, achievement_id, closed
):
    # Deeper than the JSON parser can go: refused as unparsable, not a RecursionError 500.
    depth = 100_000
    metadata = "[" * depth + ("]" * depth if closed else "")
    content = f'{{"userId": 42, "achievementId": {achievement_id}, "metadata": {metadata}}}'
    error = assert_error(await post_raw(client, PROGRESS, content, admin), 400, "malformed_json")
    assert "nested" in error["message"]


async def test_body_nested_a_hundred_thousand_levels_is_400_malformed_json(client, admin):
    depth = 100_000
    response = await post_raw(client, DEFS, '{"a":' * depth + "{}" + "}" * depth, admin)
    assert_error(response, 400, "malformed_json")


# --- /api/achievements: keys and rules -----------------------------------------------------------


@BOTH
async def test_duplicate_key_is_409_conflict(client, admin):
    first = await client.post(ACHIEVEMENTS, json={"key": "first-sale", "name": "A"}, headers=admin)
    assert first.status_code == 201, first.text
    second = await client.post(ACHIEVEMENTS, json={"key": "first-sale", "name": "B"}, headers=admin)
    assert_error(second, 409, "conflict")
    listed = await client.get(ACHIEVEMENTS, headers=admin)
    assert [a["name"] for a in listed.json()] == ["A"]


@BOTH
async def test_duplicate_key_on_patch_is_409_conflict(client, admin):
    await client.post(ACHIEVEMENTS, json={"key": "first-sale", "name": "A"}, headers=admin)
    other = await client.post(ACHIEVEMENTS, json={"key": "second-sale", "name": "B"}, headers=admin)
    response = await client.patch(
        f"{ACHIEVEMENTS}/{other.json()['id']}", json={"key": "first-sale"}, headers=admin
    )
    assert_error(response, 409, "conflict")


async def test_achievement_without_name_is_422(client, admin):
    response = await client.post(ACHIEVEMENTS, json={"key": "nameless"}, headers=admin)
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("key", ["has space", "-leading-dash", "k" * 101, "nul\u0000"])
async def test_malformed_key_is_422(client, admin, key):
    response = await client.post(ACHIEVEMENTS, json={"key": key, "name": "A"}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"key"}


@pytest.mark.parametrize(
    ("field", "value"), [("type", "LEGENDARY"), ("rarity", "mythic"), ("points", -1)]
)
async def test_unknown_enum_or_bad_number_on_achievement_is_422(client, admin, field, value):
    response = await client.post(ACHIEVEMENTS, json={"name": "A", field: value}, headers=admin)
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {field}


GOOD_RULE = {"metric": "sales", "operator": "gte", "threshold": 10}


@pytest.mark.parametrize(
    ("rule", "expected_fields"),
    [
        pytest.param(
            {**GOOD_RULE, "operator": "between"}, {"requirements.0.operator"}, id="operator-between"
        ),
        pytest.param(
            {**GOOD_RULE, "timeframe": {"duration": 2, "unit": "weeks"}},
            {"requirements.0.timeframe.unit"},
            id="unit-weeks",
        ),
        pytest.param(
            {"metric": "sales", "operator": "gte"}, {"requirements.0.threshold"}, id="no-threshold"
        ),
        pytest.param(
            {"metric": "sales", "operator": "gte", "treshold": 10},
            {"requirements.0.treshold", "requirements.0.threshold"},
            id="misspelt-treshold",
        ),
        pytest.param({**GOOD_RULE, "metric": ""}, {"requirements.0.metric"}, id="empty-metric"),
        pytest.param(
            {**GOOD_RULE, "threshold": "ten"}, {"requirements.0.threshold"}, id="text-threshold"
        ),
        pytest.param(
            {**GOOD_RULE, "timeframe": {"duration": 0, "unit": "days"}},
            {"requirements.0.timeframe.duration"},
            id="zero-duration",
        ),
    ],
)
async def test_bad_requirement_is_422_naming_the_field(client, admin, rule, expected_fields):
    body = {"name": "Closer", "requirements": [rule]}
    error = assert_error(
        await client.post(ACHIEVEMENTS, json=body, headers=admin), 422, "validation_error"
    )
    assert fields(error) == expected_fields


async def test_bad_second_requirement_is_named_by_its_index(client, admin):
    body = {"name": "Closer", "requirements": [GOOD_RULE, {**GOOD_RULE, "operator": "between"}]}
    error = assert_error(
        await client.post(ACHIEVEMENTS, json=body, headers=admin), 422, "validation_error"
    )
    assert fields(error) == {"requirements.1.operator"}


@pytest.mark.parametrize("literal", ["NaN", "Infinity"])
async def test_non_finite_threshold_is_422(client, admin, literal):
    content = (
        '{"name": "Closer", "requirements": '
        f'[{{"metric": "sales", "operator": "gte", "threshold": {literal}}}]}}'
    )
    error = assert_error(
        await post_raw(client, ACHIEVEMENTS, content, admin), 422, "validation_error"
    )
    assert fields(error) == {"requirements.0.threshold"}


async def test_bad_requirement_on_patch_is_422(client, admin):
    created = await client.post(ACHIEVEMENTS, json={"name": "Closer"}, headers=admin)
    response = await client.patch(
        f"{ACHIEVEMENTS}/{created.json()['id']}",
        json={"requirements": [{**GOOD_RULE, "operator": "between"}]},
        headers=admin,
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"requirements.0.operator"}


@pytest.mark.parametrize(
    ("reward", "field"),
    [
        ({"type": "GOLD", "value": 1}, "rewards.0.type"),
        ({"type": "XP", "value": -5}, "rewards.0.value"),
        ({"type": "XP", "value": 5, "vaule": 5}, "rewards.0.vaule"),
    ],
)
async def test_bad_reward_is_422_naming_the_field(client, admin, reward, field):
    body = {"name": "Closer", "rewards": [reward]}
    error = assert_error(
        await client.post(ACHIEVEMENTS, json=body, headers=admin), 422, "validation_error"
    )
    assert field in fields(error)


async def test_currency_reward_without_currency_is_422(client, admin):
    body = {"name": "Closer", "rewards": [{"type": "CURRENCY", "value": 5}]}
    assert_error(await client.post(ACHIEVEMENTS, json=body, headers=admin), 422, "validation_error")


# --- users -------------------------------------------------------------------------------------


async def test_unknown_time_zone_is_422(client, admin):
    response = await client.post(
        USERS, json={"userId": 1, "timeZone": "Mars/Olympus"}, headers=admin
    )
    error = assert_error(response, 422, "validation_error")
    assert fields(error) == {"timeZone"}


@BOTH
async def test_unknown_user_is_404(client, admin):
    assert_error(await client.get(f"{USERS}/nobody", headers=admin), 404, "not_found")


@BOTH
async def test_deleting_progress_that_does_not_exist_is_404(client, admin, achievement_id):
    response = await client.delete(
        PROGRESS, params={"userId": "nobody", "achievementId": achievement_id}, headers=admin
    )
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/events", {"userId": 1, "type": "deal", "occurredAt": "0001-01-01T00:00:00+14:00"}),
        (
            "/api/quests",
            {"title": "Q", "steps": [{"title": "S"}], "startDate": "0001-01-01T00:00:00+14:00"},
        ),
        ("/api/contests", {"name": "C", "metric": "xp", "endAt": "9999-12-31T23:59:59-14:00"}),
    ],
)
async def test_a_time_outside_the_years_1_to_9999_in_utc_is_422(client, admin, path, body):
    error = assert_error(await client.post(path, json=body, headers=admin), 422, "validation_error")
    assert "between the years 1 and 9999" in error["message"]
