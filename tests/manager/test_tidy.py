"""The leader's tidying, on a real broker file: replies nobody waits for any more, and
managers gone longer than the retention, are forgotten; what may still be read is kept.
The clock is the ``now`` handed in (the sweep's only notion of time)."""

from __future__ import annotations

import time
from pathlib import Path

from treadle.broker import Broker, Reply, WorkerRecord
from treadle.broker import names as q
from treadle.client import Client
from treadle.manager._tidy import PATIENCE, RETENTION, tidy

from ._support import manager, until


def record(tid: int, status: str, at: float) -> WorkerRecord:
    return WorkerRecord.model_validate(
        {"tid": tid, "status": status, "pid": 1, "host": "elsewhere"}
        | {"started_at": at, "heartbeat_at": at}
    )


def queues(broker: Broker) -> set[str]:
    return {s.queue for s in broker.stats()}


def test_replies_nobody_waits_for_are_dropped(tmp_path: Path) -> None:
    with Broker(str(tmp_path / "broker.db")) as broker:
        reply = Reply(tid=1, op="PING", ok=True, reply="PONG")
        broker.write("T1.ctrl_out.waited", reply)  # a caller may still read it
        broker.write("T1.ctrl_out.read", reply)
        broker.take("T1.ctrl_out.read")  # read, its caller died before deleting it
        broker.write("T1.ctrl_out", reply)  # the default reply queue: not a call's own
        now = time.time()
        assert tidy(broker, now).replies == 1
        assert queues(broker) == {"T1.ctrl_out.waited", "T1.ctrl_out"}
        assert tidy(broker, now + PATIENCE + 60).replies == 1  # its caller gave up long ago
        assert queues(broker) == {"T1.ctrl_out"}


def test_managers_gone_longer_than_the_retention_are_forgotten(tmp_path: Path) -> None:
    with Broker(str(tmp_path / "broker.db")) as broker:
        now = time.time()
        old = now - RETENTION - 60
        for tid, status, at in (
            (11, "stopped", old),  # forgotten
            (12, "dead", old),  # forgotten
            (13, "stopped", now - 60),  # kept: stopped lately
            (14, "active", old),  # kept: recovery decides about it
            (15, "dead", old),  # kept: its claims wait for recovery
        ):
            broker.write(q.REGISTRY, record(tid, status, at))
            broker.write(f"T{tid}.events", "[]")
            broker.write(q.ctrl_in(tid), '{"op": "PING"}')
        broker.write(q.reserved(15), '{"tid": 99, "argv": ["true"]}')
        tidied = tidy(broker, now)
        assert sorted(tidied.managers) == [11, 12]
        listed = {r.tid for r, _ in broker.peek(q.REGISTRY, WorkerRecord.model_validate_json)}
        assert listed == {13, 14, 15}
        left = {name for name in queues(broker) if name.startswith("T")}
        assert left == {f"T{t}.{x}" for t in (13, 14, 15) for x in ("events", "ctrl_in")} | {
            q.reserved(15)
        }
        assert tidy(broker, now).managers == []  # nothing twice


def test_the_leader_tidies_on_its_heartbeat(broker_path: str) -> None:
    with Client(broker_path) as client:
        client.broker.write("T1.ctrl_out.read", Reply(tid=1, op="PING", ok=True))
        client.broker.take("T1.ctrl_out.read")  # read; its caller died before deleting it
        with manager(client, heartbeat=0.2):
            until(client, lambda: not client.broker.stats(pattern="T*.ctrl_out.*"))
