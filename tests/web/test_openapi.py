"""schemathesis against the dashboard's own OpenAPI document, on a live server: every
response matches the document, no request makes the server fail."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from ._support import TOKEN, dashboard

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.mark.timeout(240)
async def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (board, _):
        proc = await asyncio.create_subprocess_exec(
            SCHEMATHESIS,
            "--no-color",
            "run",
            f"http://127.0.0.1:{board.port}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "25",
            "--request-timeout",
            "10",
            "--exclude-path",
            "/api/events",  # a stream without end: checked by test_api's reader instead
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        out, _ = await proc.communicate()
    report = out.decode()
    assert proc.returncode == 0, report
    assert "No issues found" in report or "passed" in report, report
