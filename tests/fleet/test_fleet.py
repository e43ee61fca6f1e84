"""Many managers, one PostgreSQL broker: shared work, leases, leadership, partitions.

Real manager processes (each playing a host of its own through TREADLE_HOST, so that no
one can see another's process die and only the leases tell), the real PostgreSQL server,
a schema per test.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.client import Client
from treadle.manager import _leases

from ._support import Proxy, leadership, managers, schema, start, until


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.chdir(tmp_path)  # a PostgreSQL broker's managers keep their files here
    with schema() as url:
        monkeypatch.setenv("TREADLE_BROKER", url)
        with Client(url) as c:
            yield c


def events(client: Client, kind: str) -> Counter[int]:
    return Counter(e.tid for e in client.events() if e.event == kind)


@pytest.mark.timeout(180)
def test_three_managers_share_500_tasks_and_each_runs_exactly_once(client: Client) -> None:
    with managers(client, ["host-a", "host-b", "host-c"], max_tasks=16) as fleet:
        specs = client.submit_many([{"argv": ["true"]} for _ in range(500)])
        for spec in specs:
            assert client.wait(spec.tid, timeout=150).ok
        tids = {s.tid for s in specs}
        started, completed = events(client, "started"), events(client, "completed")
        assert set(started) == set(completed) == tids
        assert set(started.values()) == set(completed.values()) == {1}
        by_manager = Counter(t.manager for t in client.tasks())
        assert set(by_manager) <= {record.tid for record, _ in fleet}
        assert len(by_manager) >= 2  # they did share it
        listed = client.managers()
        assert sorted(r.host for r in listed) == ["host-a", "host-b", "host-c"]
        assert leader(client) in {r.tid for r in listed}


@pytest.mark.timeout(180)
def test_kill_9_a_manager_mid_run_and_all_its_tasks_still_complete(client: Client) -> None:
    hosts = ["host-a", "host-b", "host-c"]
    with managers(client, hosts, heartbeat=0.5, lease=2.0, max_tasks=10) as fleet:
        specs = client.submit_many(
            [{"argv": ["sleep", "0.5"], "restart": "on-failure", "retries": 3} for _ in range(60)]
        )
        victim, victim_proc = fleet[0]

        def victim_runs_some() -> bool:
            return any(t.manager == victim.tid and t.state == "running" for t in client.tasks())

        until(victim_runs_some)
        mine = {t.tid for t in client.tasks() if t.manager == victim.tid and t.state == "running"}
        os.kill(victim_proc.pid, signal.SIGKILL)
        victim_proc.wait()
        for spec in specs:
            assert client.wait(spec.tid, timeout=120).ok, spec.tid
        completed = events(client, "completed")
        assert set(completed) == {s.tid for s in specs}
        assert set(completed.values()) == {1}
        rerun = {t.tid: t for t in client.tasks() if t.tid in mine}
        assert all("requeued" in t.events and t.manager != victim.tid for t in rerun.values())
        [dead] = [r for r in client.managers(everything=True) if r.tid == victim.tid]
        assert dead.status == "dead"
        assert "lease ran out" in dead.reason


@pytest.mark.timeout(120)
def test_kill_the_leader_and_another_leads_within_the_lease(client: Client) -> None:
    with managers(client, ["host-a", "host-b"], heartbeat=0.5, lease=2.0) as fleet:
        until(lambda: leader(client) is not None)
        [(first, proc)] = [(r, p) for r, p in fleet if r.tid == leader(client)]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        took = until(lambda: leader(client) not in (None, first.tid), timeout=30, every=0.05)
        assert took < 2.0 + 2 * 0.7  # the lease, and a renewal period to notice it
        [(second, _)] = [(r, p) for r, p in fleet if r.tid == leader(client)]
        first_token = leadership(client, first.tid)[0][-1][0]
        second_token = leadership(client, second.tid)[0][-1][0]
        assert second_token == first_token + 1


@pytest.mark.timeout(120)
def test_a_manager_cut_off_stops_leading_before_another_leads(client: Client) -> None:
    proxy = Proxy()
    url = proxy.url_for + "?schema=" + client.url.schema
    cut_off, cut_proc = start(client, "host-a", url=url, heartbeat=0.5, lease=2.0)
    try:
        until(lambda: leader(client) == cut_off.tid)
        with managers(client, ["host-b"], heartbeat=0.5, lease=2.0) as [(other, _)]:
            proxy.cut()  # host-a loses the database: it must stop leading, then stop
            assert cut_proc.wait(timeout=30) != 0
            until(lambda: leader(client) == other.tid, timeout=30)
            became_a, stopped_a = leadership(client, cut_off.tid)
            became_b, _ = leadership(client, other.tid)
            [(token_a, _)] = became_a
            [(token_b, since_b)] = became_b
            [(stopped_token, until_a)] = stopped_a
            assert stopped_token == token_a
            assert token_b == token_a + 1  # the fencing token says who leads
            assert until_a < since_b  # never two leaders at once
    finally:
        if cut_proc.poll() is None:
            cut_proc.kill()
            cut_proc.wait()
        proxy.close()


def leader(client: Client) -> int | None:
    """Who holds the leader lease now, by the database."""
    held = _leases.current(client.broker, _leases.LEADER)
    return None if held is None else held[0]
