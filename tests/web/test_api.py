"""The dashboard's API through a real HTTP client against a real server, on a real project
with real processes, run by a real manager."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from treadle import ConfigError
from treadle.broker import resolve
from treadle.manager import Manager
from treadle.project import ProjectRuntime
from treadle.web import Dashboard

from ._support import PROJECT, TOKEN, dashboard

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def running(client: httpx.AsyncClient, *names: str) -> dict[str, dict[str, object]]:
    """The status once every named child is running (asked again until then)."""
    async with asyncio.timeout(30):
        while True:
            children = {c["name"]: c for c in (await client.get("/api/status")).json()["children"]}
            if all(children.get(n, {}).get("state") == "running" for n in names):
                return children
            await asyncio.sleep(0.05)  # polling an HTTP API: there is nothing to await on


async def test_status_tasks_managers_limiters_and_the_openapi_document(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (board, client):
        children = await running(client, "web", "worker[0]", "ticker")
        assert children["web"]["kind"] == "process"
        assert isinstance(children["web"]["pid"], int)
        assert children["ticker"]["kind"] == "loop"
        status = (await client.get("/api/status")).json()
        assert status["name"] == "shop"
        assert status["manager"]["tid"] == str(board.manager.tid)
        assert status["tree"]["kind"] == "supervisor"

        managers = (await client.get("/api/managers")).json()
        assert [m["tid"] for m in managers] == [str(board.manager.tid)]
        assert managers[0]["project"] == str(tmp_path / "treadle.toml")
        assert (await client.get("/api/tasks")).json() == []
        missing = await client.get("/api/tasks/42")
        assert (missing.status_code, missing.json()) == (404, {"detail": "no task 42"})
        limiters = {x["name"]: x for x in (await client.get("/api/limiters")).json()}
        assert (limiters["io"]["capacity"], limiters["io"]["in_use"]) == (2, 0)

        spec = await client.get("/api/openapi.json")
        paths = spec.json()["paths"]
        for path in (
            "/api/status",
            "/api/tasks",
            "/api/tasks/{tid}",
            "/api/managers",
            "/api/limiters",
            "/api/events",
            "/api/children/{name}/{action}",
            "/api/scale",
            "/metrics",
        ):
            assert path in paths, path
        page = await client.get("/")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]

        paths = ("/api/status", "/api/managers", "/api/openapi.json", "/metrics", "/")
        everything = "".join([(await client.get(p)).text for p in paths])
        assert TOKEN not in everything
        assert "s3cret-value" not in everything


async def test_control_needs_the_token_and_answers_what_happened(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (_, client):
        children = await running(client, "web", "worker[0]")
        assert (await client.post("/api/children/web/restart")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.post("/api/children/web/restart", headers=wrong)).status_code == 401
        done = await client.post("/api/children/web/restart", headers=AUTH)
        assert (done.status_code, done.json()["reply"]) == (200, "restarted")
        after = await running(client, "web")
        assert after["web"]["pid"] != children["web"]["pid"]

        assert (await client.post("/api/children/web/pause", headers=AUTH)).status_code == 200
        again = await client.post("/api/children/web/pause", headers=AUTH)
        assert again.status_code == 409
        assert "paused" in again.json()["detail"]
        assert (await client.post("/api/children/web/resume", headers=AUTH)).status_code == 200
        unknown = await client.post("/api/children/nope/stop", headers=AUTH)
        assert unknown.status_code == 404
        bad = await client.post("/api/children/web/explode", headers=AUTH)
        assert bad.status_code == 422

        scaled = await client.post(
            "/api/scale", headers=AUTH, json={"name": "worker", "replicas": 3}
        )
        assert scaled.json()["members"] == ["worker[0]", "worker[1]", "worker[2]"]
        over = await client.post("/api/scale", headers=AUTH, json={"name": "worker", "replicas": 4})
        assert over.status_code == 409
        assert "at most 3" in over.json()["detail"]
        bad_body = await client.post("/api/scale", headers=AUTH, json={"name": "worker"})
        assert bad_body.status_code == 422

        stopped = await client.post("/api/children/web/stop", headers=AUTH)
        assert stopped.json()["reply"] == "stopped"
        status = (await client.get("/api/status")).json()
        assert status["stopped"] == ["web"]
        assert (await client.post("/api/children/web/start", headers=AUTH)).status_code == 200
        await running(client, "web")


async def sse(client: httpx.AsyncClient, headers: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """The server-sent events of /api/events, each as its fields (comments skipped)."""
    async with client.stream("GET", "/api/events", headers=headers, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        async for line in response.aiter_lines():
            if not line:
                if "data" in event:
                    yield event
                event = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                event[key] = value


async def collect(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    until: dict[str, str],
    seen: list[dict[str, str]],
) -> None:
    """Read events into ``seen`` until one's data holds every item of ``until``."""
    async with asyncio.timeout(30):
        async for event in sse(client, headers):
            seen.append(event)
            if until.items() <= json.loads(event["data"]).items():
                return


async def test_events_stream_lifecycle_and_output_and_resume_after_the_last_id(
    tmp_path: Path,
) -> None:
    async with dashboard(tmp_path) as (_, client):
        await running(client, "web")
        web_up = {"name": "web", "to": "running"}
        # its start recorded already (a new stream starts "now": it must not be the one seen)
        await collect(client, {"Last-Event-ID": "0"}, web_up, [])
        first: list[dict[str, str]] = []
        reader = asyncio.create_task(collect(client, {}, web_up, first))
        await asyncio.sleep(0.3)  # let the stream connect before the change (it starts "now")
        await client.post("/api/children/web/restart", headers=AUTH)
        await reader
        transitions = [json.loads(e["data"]) for e in first if e["event"] == "lifecycle"]
        web = [(t["from"], t["to"]) for t in transitions if t["name"] == "web"]
        assert ("running", "stopping") in web, transitions
        assert web[-1][1] == "running"
        last_id = first[-1]["id"]

        # while no client listens: another restart, and web prints again
        await client.post("/api/children/web/restart", headers=AUTH)
        await running(client, "web")
        resumed: list[dict[str, str]] = []
        await collect(client, {"Last-Event-ID": last_id}, web_up, resumed)  # the 2nd restart
        ids = [e["id"] for e in resumed]
        assert last_id not in ids  # nothing twice
        kinds = [(e["event"], json.loads(e["data"]).get("to")) for e in resumed]
        assert ("lifecycle", "stopping") in kinds  # nothing lost of what came meanwhile
        assert ("lifecycle", "running") in kinds
        if ("log", None) not in kinds:  # its output comes with the next poll of the logs
            printed = {"child": "web", "text": "web up"}
            await collect(client, {"Last-Event-ID": resumed[-1]["id"]}, printed, resumed)
        ids = [e["id"] for e in resumed]
        mids = [tuple(map(int, i.split("-"))) for i in [last_id, *ids]]
        assert mids == sorted(mids)


async def test_metrics_in_prometheus_text_format(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (_, client):
        await running(client, "web", "ticker")
        await asyncio.sleep(0.2)  # some runs of the ticker loop
        text = (await client.get("/metrics")).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        states = {
            (s.labels["child"], s.labels["state"]): s.value
            for s in families["treadle_child_state"].samples
        }
        assert states[("web", "running")] == 1.0
        assert states[("web", "failed")] == 0.0
        runs = {s.labels["child"]: s.value for s in families["treadle_loop_runs"].samples}
        assert runs["ticker"] > 0
        buckets = [
            s.value
            for s in families["treadle_loop_run_duration_seconds"].samples
            if s.name.endswith("_bucket")
        ]
        assert buckets == sorted(buckets)  # cumulative
        assert buckets[-1] >= runs["ticker"] - 1
        rss = {s.labels["child"] for s in families["treadle_process_resident_memory_bytes"].samples}
        assert "web" in rss
        assert "treadle_limiter_capacity" in families
        queues = {s.labels["queue"] for s in families["treadle_queue_pending"].samples}
        assert "treadle.workers.registry" in queues


async def test_a_token_is_generated_0600_and_other_hosts_need_one(tmp_path: Path) -> None:
    async with dashboard(tmp_path, token=None) as (board, client):
        path = tmp_path / ".treadle" / "token"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert board.token == path.read_text().strip()
        ok = await client.post(
            "/api/children/web/pause", headers={"Authorization": f"Bearer {board.token}"}
        )
        assert ok.status_code in (200, 409)
    (tmp_path / "treadle.toml").write_text(PROJECT)
    runtime = ProjectRuntime(tmp_path / "treadle.toml")
    manager = Manager(resolve(tmp_path / ".treadle" / "broker.db"), hosted=runtime)
    with pytest.raises(ConfigError, match=r"binding 0\.0\.0\.0 .* needs a configured token"):
        Dashboard(manager, runtime, host="0.0.0.0")


async def test_a_host_header_naming_another_site_is_refused(tmp_path: Path) -> None:
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends
    ``Host: evil.example``; the dashboard answers 400 to every route, control and all."""
    async with dashboard(tmp_path, allowed_hosts=("board.internal",)) as (board, client):
        port = board.port
        for path in ("/", "/api/status", "/api/tasks", "/api/events", "/metrics"):
            refused = await client.get(path, headers={"Host": f"evil.example:{port}"})
            assert refused.status_code == 400, path
        control = await client.post(
            "/api/children/web/pause", headers={**AUTH, "Host": "evil.example"}
        )
        assert control.status_code == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "board.internal"):
            assert (await client.get("/api/status", headers={"Host": host})).status_code == 200


async def test_a_non_ascii_bearer_token_is_a_401(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (_, client):
        odd = {b"Authorization": "Bearer tök€n".encode()}
        answer = await client.post("/api/children/web/pause", headers=odd)
        assert answer.status_code == 401


def test_a_wildcard_address_accepts_this_machines_names(tmp_path: Path) -> None:
    (tmp_path / "treadle.toml").write_text(PROJECT)
    runtime = ProjectRuntime(tmp_path / "treadle.toml")
    manager = Manager(resolve(tmp_path / ".treadle" / "broker.db"), hosted=runtime)
    board = Dashboard(manager, runtime, host="0.0.0.0", token=TOKEN, allowed_hosts=("x.io",))
    hosts = board.hosts()
    assert {"localhost", "127.0.0.1", "[::1]", "0.0.0.0", "x.io"} <= set(hosts)
    assert socket.gethostname().lower() in hosts
    assert "evil.example" not in hosts
    local = Dashboard(manager, runtime, host="127.0.0.1", token=TOKEN)
    assert local.hosts() == ["127.0.0.1", "[::1]", "localhost"]


def test_the_projects_dashboard_table_names_the_hosts_it_answers(tmp_path: Path) -> None:
    text = PROJECT + '\n[dashboard]\nenabled = true\nallowed_hosts = ["board.internal"]\n'
    (tmp_path / "treadle.toml").write_text(text)
    runtime = ProjectRuntime(tmp_path / "treadle.toml")
    manager = Manager(resolve(tmp_path / ".treadle" / "broker.db"), hosted=runtime)
    board = Dashboard.of(manager, runtime)
    assert board.hosts() == ["127.0.0.1", "[::1]", "board.internal", "localhost"]
