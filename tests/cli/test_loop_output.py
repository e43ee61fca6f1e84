"""What the user did: a project of their own whose loops ``print()`` and log, run with the
installed ``treadle up`` (in the background and in the foreground). Their lines reach
``treadle logs`` and the merged foreground output, prefixed with the loop's name, as a
process's lines do; nothing goes to the manager's own log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ._support import TREADLE, gone, treadle

PROJECT = """
[project]
name = "mine"

[loops.prices]
target = "jobs:prices"
interval = "100ms"

[loops.pollers]
target = "jobs:Poller"
interval = "100ms"
replicas = 2

[processes.web]
command = ["sh", "-c", "echo web up; exec sleep 60"]
"""

JOBS = """
import asyncio
import logging

from treadle import Loop, loop

log = logging.getLogger("jobs")


@loop(interval=0.1)
async def prices() -> None:
    print("price", 42)
    log.info("fetched the prices")


class Poller(Loop):
    async def run_once(self) -> None:
        await asyncio.to_thread(print, "polled in a thread")
        log.warning("poll was slow")
"""


def write(root: Path) -> Path:
    (root / "treadle.toml").write_text(textwrap.dedent(PROJECT).lstrip())
    (root / "jobs.py").write_text(textwrap.dedent(JOBS).lstrip())
    return root


def eventually(read: Callable[[], str], *wanted: str, timeout: float = 30) -> str:
    """``read()`` again until its text has every ``wanted`` line part (output from other
    processes: there is nothing to wait on but their files)."""
    deadline = time.monotonic() + timeout
    while True:
        text = read()
        if all(w in text for w in wanted):
            return text
        assert time.monotonic() < deadline, f"never {wanted} in:\n{text}"
        time.sleep(0.1)


def test_up_d_then_logs_shows_each_loops_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    root = write(tmp_path)
    cwd = str(root)
    up = treadle("up", "-d", cwd=cwd)
    assert up.returncode == 0, up.stderr
    pid = int(up.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        wanted = ("prices  | price 42", "prices  ! INFO jobs: fetched the prices")
        eventually(lambda: treadle("logs", "prices", cwd=cwd).stdout, *wanted)
        pollers = eventually(
            lambda: treadle("logs", "pollers", cwd=cwd).stdout,
            "pollers | polled in a thread",
            "pollers ! WARNING jobs: poll was slow",
        )
        assert "price 42" not in pollers  # each loop's lines are its own
        rows = [json.loads(line) for line in treadle("logs", "--json", cwd=cwd).stdout.splitlines()]
        printed = {"price 42": "stdout", "INFO jobs: fetched the prices": "stderr"}
        streams = {(r["child"], r["stream"]) for r in rows if r.get("text") in printed}
        assert streams == {("prices", "stdout"), ("prices", "stderr")}
    finally:
        down = treadle("down", cwd=cwd)
        gone(pid)
    assert down.returncode == 0, down.stderr
    manager_logs = "".join(p.read_text() for p in (root / ".treadle" / "managers").iterdir())
    assert "price 42" not in manager_logs
    assert "poll was slow" not in manager_logs


def test_up_in_the_foreground_prefixes_each_loops_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    root = write(tmp_path)
    out = root / "up.out"
    env = {k: v for k, v in os.environ.items() if k != "TREADLE_BROKER"}
    with out.open("w") as sink:
        proc = subprocess.Popen([TREADLE, "up"], cwd=root, env=env, stdout=sink, stderr=sink)
    try:
        text = eventually(
            out.read_text,
            "prices  | price 42",
            "prices  ! INFO jobs: fetched the prices",
            "pollers | polled in a thread",
            "pollers ! WARNING jobs: poll was slow",
            "web     | web up",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0, out.read_text()
    bare = [line for line in text.splitlines() if line.startswith(("price", "polled", "WARNING"))]
    assert bare == []  # nothing unprefixed
