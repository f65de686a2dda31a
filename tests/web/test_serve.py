"""`accolade serve --demo` as a user runs it: the printed URLs work and the team plays."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.test_cli import printed_token, serving_process


@pytest.mark.live
def test_serve_demo_on_an_empty_directory_prints_the_screens_and_plays(
    tmp_path: Path, free_port: int
) -> None:
    env = {"ACCOLADE_DEMO_INTERVAL_S": "0.2"}
    with serving_process(tmp_path, free_port, "--demo", env=env) as (base, lines, _):
        output = "".join(lines)
        assert f"{base}/tv" in output
        assert f"{base}/dashboard" in output
        assert "Demo" in output
        for page in ("/tv", "/dashboard"):
            assert httpx.get(f"{base}{page}").status_code == 200
        headers = {"Authorization": f"Bearer {printed_token(lines)}"}
        deadline = time.monotonic() + 20
        while True:
            feed = httpx.get(f"{base}/api/activity?limit=50", headers=headers).json()
            if any(str(item["userId"]).startswith("demo-") for item in feed):
                break
            assert time.monotonic() < deadline, "the demo team celebrated nothing"
            time.sleep(0.2)
        member = httpx.get(f"{base}/api/users/demo-1", headers=headers).json()
        assert member["userName"] == "Ava Martinez"
