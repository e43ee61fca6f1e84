"""``/metrics`` as Prometheus expects it: CPU as a seconds counter, OpenMetrics when the
scraper asks, help that explains, and label values that survive a manager's restart."""

from __future__ import annotations

import asyncio
import json
import re
from asyncio.subprocess import PIPE
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families as _openmetrics
from prometheus_client.parser import text_string_to_metric_families

from ..cli._support import TREADLE
from ._support import dashboard

PROMETHEUS_ACCEPT = (  # what Prometheus 2.x and 3.x send
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


async def test_cpu_is_a_seconds_counter_and_help_explains(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (_, client):
        await _running(client, "web", "ticker")
        answer = await client.get("/metrics")
        assert answer.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    cpu = families["treadle_process_cpu_seconds"]
    assert cpu.type == "counter"
    seconds = {s.labels["child"]: s for s in cpu.samples}
    assert seconds["web"].name == "treadle_process_cpu_seconds_total"
    assert seconds["web"].value >= 0
    assert "treadle_process_cpu_percent" not in families  # a rate is Prometheus' to compute
    assert "treadle_process_resident_memory_bytes" in families
    for family in families.values():
        words = family.documentation.split()
        assert len(words) >= 4, (family.name, family.documentation)


async def test_openmetrics_when_asked_for(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (_, client):
        await _running(client, "web", "ticker")
        answer = await client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
        plain = await client.get("/metrics", headers={"Accept": "text/plain"})
        refused = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text;q=0, text/plain"}
        )
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")
    families = {f.name: f for f in _openmetrics(answer.text)}  # type: ignore[no-untyped-call]
    assert families["treadle_child_restarts"].type == "counter"
    assert families["treadle_loop_run_duration_seconds"].type == "histogram"
    assert plain.headers["content-type"].startswith("text/plain")
    assert refused.headers["content-type"].startswith("text/plain")


async def test_no_label_names_the_manager_and_control_calls_leave_no_queue(
    tmp_path: Path,
) -> None:
    async with dashboard(tmp_path) as (board, client):
        await _running(client, "web")
        tid = board.manager.tid
        broker = str(tmp_path / ".treadle" / "broker.db")
        done = await _treadle("worker", "status", str(tid), "--broker", broker)  # a STATUS call
        assert done[0] == 0, done
        _, listed = await _treadle("queue", "list", "--json", "--broker", broker)
        left = [x["queue"] for x in json.loads(listed) if ".ctrl_out." in x["queue"]]
        text = (await client.get("/metrics")).text
    assert left == []  # each call's reply queue went with its reply
    assert str(tid) not in text
    queues = set(re.findall(r'queue="([^"]+)"', text))
    assert {"ctrl_in", "events", "treadle.workers.registry"} <= queues  # its own: by role
    assert not any(re.match(r"T\d+", q) for q in queues)


async def _treadle(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(TREADLE, *args, stdout=PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _running(client: object, *names: str) -> None:
    from .test_api import running

    await running(client, *names)  # type: ignore[arg-type]
