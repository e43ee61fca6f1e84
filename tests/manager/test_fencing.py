"""A manager frozen past its lease (SIGSTOP) on a shared SQLite file: another manager
takes its task over, and the two copies never run at once; thawed, it fences itself."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.client import Client

from ._support import ENV, manager, until


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def freeze_between_writes(pid: int, database: str) -> None:
    """SIGSTOP ``pid`` at a moment it holds no write lock on ``database``: a SQLite writer
    frozen inside a transaction stops every other writer until it is thawed (nobody can
    take its tasks over then, and no copy can start: a case with nothing to prove)."""
    for _ in range(100):
        os.kill(pid, signal.SIGSTOP)
        try:
            with contextlib.closing(sqlite3.connect(database, timeout=0.2)) as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            os.kill(pid, signal.SIGCONT)
    raise AssertionError("the manager always held the write lock")


def copies(path: Path) -> list[tuple[int, float, float]]:
    """Each copy's pid, first and last beat, in order of start."""
    spans: dict[int, list[float]] = {}
    for line in path.read_text().splitlines():
        pid, at = line.split()
        spans.setdefault(int(pid), []).append(float(at))
    return sorted(((p, min(b), max(b)) for p, b in spans.items()), key=lambda s: s[1])


@pytest.mark.timeout(90)
@pytest.mark.parametrize("restart", ["on-failure", "never"])
def test_a_frozen_managers_task_never_runs_beside_its_second_copy(
    client: Client, tmp_path: Path, restart: str
) -> None:
    beats = tmp_path / "beats"
    options = {"heartbeat": 0.3, "lease": 1.5}
    with manager(client, **options) as (frozen, frozen_proc):
        spec = client.submit(
            function="tests.manager._tasks:beat",
            args=[str(beats), 6.0],
            env=ENV,
            restart=restart,
            retries=2,
        )
        until(client, lambda: client.task(spec.tid).state == "running")
        until(client, lambda: beats.exists() and beats.stat().st_size > 0)
        freeze_between_writes(frozen_proc.pid, str(client.url.location))
        try:
            with manager(client, **options) as (other, _):
                result = client.wait(spec.tid, timeout=60)
                os.kill(frozen_proc.pid, signal.SIGCONT)
                assert frozen_proc.wait(timeout=30) != 0  # it fenced itself: a failure
        finally:
            if frozen_proc.poll() is None:
                os.kill(frozen_proc.pid, signal.SIGCONT)
    spans = copies(beats)
    for (_, _, first_end), (_, second_start, _) in itertools.pairwise(spans):
        assert first_end < second_start  # never two at once
    events = client.events(spec.tid)
    thawed = [
        e for e in events if e.manager == frozen.tid and e.event not in ("starting", "started")
    ]
    assert thawed == []  # it wrote nothing of the task after its lease ran out
    if restart == "never":
        assert len(spans) == 1  # started at most once
        assert result.state == "failed"
        assert "may have started" in (result.error or "")
    else:
        assert len(spans) == 2
        assert result.ok
        assert result.value == spans[1][0]  # the second copy's pid: it ran on the other
        assert any(e.event == "requeued" and e.manager == other.tid for e in events)
