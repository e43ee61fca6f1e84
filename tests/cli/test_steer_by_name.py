"""Steering a running project by name, as a new user does: the installed command, a small
project in a temporary directory, one member of a pool stopped, started, restarted,
scaled around; names mistyped; a reload refused."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._support import treadle, up_in_background

PROJECT = """
[project]
name = "small"

[processes.web]
command = ["sleep", "60"]

[processes.worker]
command = ["sleep", "60"]
replicas = 2
scale = { min = 0, max = 4 }
"""


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)  # the project's own broker
    (tmp_path / "treadle.toml").write_text(textwrap.dedent(PROJECT).lstrip())
    with up_in_background(tmp_path) as root:
        yield root


def rows(root: Path) -> list[dict[str, object]]:
    done = treadle("status", "--json", cwd=str(root))
    assert done.returncode == 0, done.stderr
    children: list[dict[str, object]] = json.loads(done.stdout)["children"]
    return children


def status(root: Path) -> dict[str, dict[str, object]]:
    found = rows(root)
    names = [str(c["name"]) for c in found]
    assert len(names) == len(set(names)), names  # never a member twice
    return {str(c["name"]): c for c in found}


def until_running(root: Path, *names: str) -> dict[str, dict[str, object]]:
    """Ask again until each of ``names`` runs with a pid (the manager's own pace)."""
    for _ in range(300):
        s = status(root)
        if all(s.get(n, {}).get("state") == "running" and s[n].get("pid") for n in names):
            return s
    raise AssertionError(f"never running: {names}: {status(root)}")


def test_one_pool_member_is_stopped_started_and_restarted_by_name(small: Path) -> None:
    cwd = str(small)
    s = until_running(small, "web", "worker[0]", "worker[1]")
    first = s["worker[0]"]["pid"]

    assert treadle("stop", "worker[1]", cwd=cwd).stdout == "worker[1]: stopped\n"
    s = status(small)
    assert s["worker[1]"]["state"] == "stopped"
    assert s["worker[1]"]["pid"] is None
    assert s["worker[0]"]["pid"] == first  # its sibling runs on
    table = treadle("status", cwd=cwd).stdout
    assert table.count("worker[1]") == 1

    started = treadle("start", "worker[1]", cwd=cwd)
    assert (started.returncode, started.stdout) == (0, "worker[1]: started\n")
    before = until_running(small, "worker[1]")["worker[1]"]["pid"]
    again = treadle("start", "worker[1]", cwd=cwd)
    assert (again.returncode, again.stderr) == (
        1,
        "treadle: small: 'worker[1]' is not stopped (running)\n",
    )
    assert treadle("restart", "worker[1]", cwd=cwd).stdout == "worker[1]: restarted\n"
    after = until_running(small, "worker[1]")["worker[1]"]["pid"]
    assert after != before

    assert treadle("stop", "worker[1]", cwd=cwd).returncode == 0
    assert treadle("restart", "worker[1]", cwd=cwd).returncode == 0  # restart starts it too
    until_running(small, "worker[1]")

    assert treadle("stop", "worker[1]", cwd=cwd).returncode == 0
    scaled = treadle("scale", "worker", "3", cwd=cwd)
    assert scaled.stdout == "worker: 3 (worker[0], worker[1] (stopped), worker[2])\n"
    s = until_running(small, "worker[2]")
    assert [n for n in s if n.startswith("worker")] == ["worker[0]", "worker[1]", "worker[2]"]
    assert s["worker[1]"]["state"] == "stopped"
    assert treadle("start", "worker", cwd=cwd).stdout == "worker: started\n"  # its stopped ones
    s = until_running(small, "worker[0]", "worker[1]", "worker[2]")
    assert s["worker[0]"]["pid"] == first
    assert treadle("scale", "worker", "1", cwd=cwd).stdout == "worker: 1 (worker[0])\n"
    assert [n for n in status(small) if n.startswith("worker")] == ["worker[0]"]


def test_mistakes_are_said_plainly_and_once(small: Path) -> None:
    """A mistyped name gets a suggestion (not a Python list); a reload of a file that does
    not validate is refused in one line (not a warning and then the refusal)."""
    cwd = str(small)
    close = treadle("restart", "wroker", cwd=cwd)
    assert (close.returncode, close.stderr) == (
        1,
        "treadle: small: no child 'wroker' (did you mean 'worker'?)\n",
    )
    far = treadle("restart", "nosuch", cwd=cwd)
    assert far.stderr == "treadle: small: no child 'nosuch' (children: web, worker)\n"

    path = small / "treadle.toml"
    path.write_text(path.read_text() + "bogus = 1\n")
    done = treadle("reload", cwd=str(small))
    assert done.returncode == 1
    assert done.stderr == f"treadle: {path}:11:1: processes.worker.bogus: unknown key\n"
