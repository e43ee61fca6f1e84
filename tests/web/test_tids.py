"""The dashboard API writes TIDs as text, and its OpenAPI document says so: a browser
reads a JSON number as a double, which rounds a 64-bit TID."""

from __future__ import annotations

import asyncio
import json
from asyncio.subprocess import PIPE
from pathlib import Path

from ..cli._support import TREADLE
from ._support import dashboard


async def test_tasks_and_managers_carry_tids_as_text(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (board, client):
        broker = str(tmp_path / ".treadle" / "broker.db")
        run = await asyncio.create_subprocess_exec(
            TREADLE, "run", "--wait", "--json", "--broker", broker, "--", "true", stdout=PIPE
        )
        out, _ = await run.communicate()
        tid = json.loads(out)["tid"]  # its result: the task has ended, its log says so
        [task] = (await client.get("/api/tasks")).json()
        assert (task["tid"], task["manager"]) == (tid, str(board.manager.tid))
        detail = (await client.get(f"/api/tasks/{tid}")).json()
        assert (detail["tid"], detail["state"]) == (tid, "completed")
        assert detail["result"]["tid"] == tid
        [manager] = (await client.get("/api/managers")).json()
        assert manager["tid"] == str(board.manager.tid)
        status = (await client.get("/api/status")).json()
        assert status["manager"]["tid"] == str(board.manager.tid)

        schemas = (await client.get("/api/openapi.json")).json()["components"]["schemas"]
        tid_schema = {"$ref": "#/components/schemas/Tid"}
        assert schemas["Tid"]["type"] == "string"
        assert schemas["Tid"]["pattern"] == "^[0-9]+$"
        assert "written as text" in schemas["Tid"]["description"]
        assert schemas["Task"]["properties"]["tid"] == tid_schema
        assert tid_schema in schemas["Task"]["properties"]["manager"]["anyOf"]
        assert schemas["ManagerRef"]["properties"]["tid"] == tid_schema
        assert schemas["WorkerRecord"]["properties"]["tid"] == tid_schema
