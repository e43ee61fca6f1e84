"""A leader_only loop in a project run on two "hosts" of one PostgreSQL broker: it runs
on the leader's host only, and moves to the other when the leader dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.client import Client

from ._support import schema, until

TREADLE = str(Path(sys.executable).parent / "treadle")
CRON = """
import os, time
from treadle.loop import loop

@loop(interval=0.05)
async def tick() -> None:
    with open(os.environ["RAN"], "a") as f:
        f.write(f"{os.getpid()} {time.monotonic():.6f}\\n")
"""


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    with schema() as broker:
        yield broker


def ran(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    return [
        (int(p), float(t))
        for p, t in (line.split() for line in path.read_text().split("\n") if line)
    ]


@pytest.mark.timeout(120)
def test_a_leader_only_loop_runs_on_the_leader_alone_and_moves_when_it_dies(
    tmp_path: Path, url: str
) -> None:
    (tmp_path / "cron.py").write_text(CRON)
    (tmp_path / "treadle.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "jobs"
            broker = "{url}"

            [loops.cron]
            target = "cron:tick"
            leader_only = true
            """
        )
    )
    log = tmp_path / "ran.txt"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for host in ("host-a", "host-b"):
            env = {**os.environ, "TREADLE_HOST": host, "RAN": str(log)}
            procs.append(
                subprocess.Popen(
                    [TREADLE, "up", "--no-logs"],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with Client(url) as client:
            until(lambda: len(client.managers()) == 2)
        until(lambda: len(ran(log)) >= 10)
        pids = {pid for pid, _ in ran(log)}
        assert len(pids) == 1  # one host runs it
        [leader_pid] = pids
        [leader] = [p for p in procs if p.pid == leader_pid]
        [other] = [p for p in procs if p is not leader]
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait()
        until(lambda: any(pid == other.pid for pid, _ in ran(log)), timeout=30)
        runs = ran(log)
        last_dead = max(t for pid, t in runs if pid == leader_pid)
        first_new = min(t for pid, t in runs if pid == other.pid)
        assert last_dead < first_new  # never both at once
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
