"""``treadle status`` and ``treadle top`` at a real terminal (a pseudo-terminal), as people
run them: 80 columns, the arrow keys, q."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._pty import Terminal, plain
from ._support import treadle, up_in_background

PROJECT = """
[project]
name = "small"

[processes.web]
command = ["sh", "-c", "echo web says hello; exec sleep 60"]
# nothing listens there: web is unhealthy, with a reason longer than 80 columns allow
health = { tcp = "127.0.0.1:9", interval = "200ms", failures = 1000000 }

[processes.worker]
command = ["sleep", "60"]
replicas = 2
"""


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    (tmp_path / "treadle.toml").write_text(textwrap.dedent(PROJECT).lstrip())
    with up_in_background(tmp_path) as root:
        yield root


def status(root: Path) -> dict[str, dict[str, object]]:
    done = treadle("status", "--json", cwd=str(root))
    assert done.returncode == 0, done.stderr
    return {c["name"]: c for c in json.loads(done.stdout)["children"]}


def until(root: Path, check: str) -> dict[str, dict[str, object]]:
    for _ in range(300):
        s = status(root)
        if eval(check, {}, {"s": s}):
            return s
    raise AssertionError(f"never: {check}: {status(root)}")


def test_status_at_80_columns_keeps_state_pid_and_uptime_whole(small: Path) -> None:
    s = until(small, "s['web']['health'] == 'unhealthy' and s['web']['pid']")
    assert len(f"{s['web']['health']}: {s['web']['health_reason']}") > 40
    with Terminal("status", cwd=str(small), columns=80) as term:
        assert term.wait() == 0
    shown = [line.rstrip() for line in plain(term.output).splitlines() if line.strip()]
    assert all(len(line) <= 80 for line in shown), shown
    header = next(line for line in shown if line.startswith("NAME"))
    assert header.split()[:5] == ["NAME", "KIND", "STATE", "PID", "UPTIME"]
    web = next(line for line in shown if line.startswith("web "))
    words = web.split()
    assert words[:4] == ["web", "process", "running", str(s["web"]["pid"])]
    assert words[4][-1] in "sm"  # 1.2s, 3m: whole
    assert "unheal…" in web  # the health reason gave way


def test_top_selects_a_child_and_steers_it_from_the_keyboard(small: Path) -> None:
    s = until(small, "all(c['state'] == 'running' and c['pid'] for c in s.values())")
    web_pid = s["web"]["pid"]
    with Terminal("top", "-i", "0.5", cwd=str(small), columns=120) as term:
        term.read_until("q quit")  # the keys it takes, under the table
        assert "rates over 10s" in term.output
        term.press(b"l")  # the selected child's log: web, the first
        term.read_until("web says hello")
        term.press(b"r")
        term.read_until("web: restarted")
        term.press(b"p")
        term.read_until("web: paused")
        assert status(small)["web"]["state"] == "paused"
        term.press(b"p")
        term.read_until("web: running")
        term.press(b"\x1b[B")  # down: worker[0]
        term.read_until("── worker[0] ──")  # the log pane follows the selection
        term.press(b"s")
        term.read_until("worker[0]: stopped")
        assert status(small)["worker[0]"]["state"] == "stopped"
        term.press(b"s")
        term.read_until("worker[0]: started")
        term.press(b"q")
        assert term.wait() == 0
    s = until(small, "s['worker[0]']['state'] == 'running' and s['web']['state'] == 'running'")
    assert s["web"]["pid"] != web_pid  # restarted by "r"


def test_top_piped_prints_once_and_leaves(small: Path) -> None:
    done = treadle("top", "-n", "1", cwd=str(small))
    assert done.returncode == 0
    assert "worker[1]" in done.stdout
    assert "q quit" not in done.stdout  # no keys without a terminal
