"""The journal (what a spawner writes) and recovery (what a new manager makes of it): real
files, real processes; the journal read back from its file."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

import psutil

from treadle.process import Leftovers, clear_leftovers, reap_leftovers
from treadle.process._journal import COMPACT, Journal
from treadle.process._launcher import TAG


def _sleeper(**env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], start_new_session=True, env={**os.environ, **env})


def _started(name: str, pid: int, created: float = 0.0) -> bytes:
    record = {"name": name, "pid": pid, "pgid": pid, "created": created}
    return f"+ {json.dumps(record)}\n".encode()


def test_the_journal_writes_starts_exits_and_forgets_and_empties_when_nothing_is_left(
    tmp_path: Path,
) -> None:
    journal = Journal(str(tmp_path))
    path = Path(journal.path)
    assert path.name == f"{os.getpid()}.records"
    journal.started(11, _started("a", 11))
    journal.started(12, _started("b", 12))
    journal.ended(11, 0)
    journal.ended(12, -9)
    journal.forget(11)
    assert path.read_bytes().splitlines()[2:] == [b"= 11 0", b"= 12 -9", b"- 11"]
    journal.forget(12)
    assert path.read_bytes() == b""  # nothing left to tell: emptied
    journal.started(13, _started("c", 13))
    journal.forget(13)  # still running: forgotten the moment it ends
    journal.ended(13, 0)
    assert path.read_bytes() == b""
    journal.close()
    assert not path.exists()  # closed empty: gone


def test_a_closed_journal_that_still_has_exits_stays_and_is_rewritten_when_forgets_pile_up(
    tmp_path: Path,
) -> None:
    journal = Journal(str(tmp_path))
    journal.started(7, _started("keeper", 7))
    for pid in range(5_000_000, 5_000_000 + COMPACT + 5):  # past any pid_max here
        journal.started(pid, _started("short", pid))
        journal.ended(pid, 0)
        journal.forget(pid)
    lines = Path(journal.path).read_bytes().splitlines()
    assert lines[0].startswith(b'+ {"name": "keeper"')
    assert len(lines) == 1 + 3 * 5  # rewritten once: the keeper's line and those since
    journal.ended(7, 3)
    journal.close()
    assert reap_leftovers(str(tmp_path)) == Leftovers(killed=[], exits={"keeper": 3})


def test_a_reused_pid_keeps_both_exits_apart(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    journal.started(5, _started("first", 5))
    journal.ended(5, 1)
    journal.started(5, _started("second", 5))  # the pid came back while "first" is kept
    journal.ended(5, 2)
    journal.forget(5)  # the oldest ended one
    journal.close()
    assert reap_leftovers(str(tmp_path)).exits == {"second": 2}


def test_a_reaper_kills_what_runs_returns_what_ended_and_skips_a_cut_line(tmp_path: Path) -> None:
    left, spared = _sleeper(), _sleeper()
    try:
        created = psutil.Process(left.pid).create_time()
        (tmp_path / "1.records").write_bytes(
            _started("left", left.pid, created)
            + _started("spared", spared.pid, 0.0)  # another process's start time: reused pid
            + _started("done", 99_999_999)
            + b"= 99999999 0\n"
            + b'+ {"name": "cut", "pid": 12'
        )
        found = reap_leftovers(str(tmp_path))
        assert found == Leftovers(killed=[left.pid], exits={"done": 0})
        assert left.wait(timeout=10) < 0
        assert spared.poll() is None
        assert (tmp_path / "1.records").exists()  # its exit is kept until cleared
        clear_leftovers(str(tmp_path))
        assert list(tmp_path.iterdir()) == []
    finally:
        for p in (left, spared):
            p.kill()
            p.wait()


def test_a_reaper_kills_every_process_that_carries_the_directory_tag(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    tagged = _sleeper(**{TAG: f"{records}|task|123"})
    other = _sleeper(**{TAG: f"{records}-other|task|123"})
    try:
        assert reap_leftovers(str(records)).killed == [tagged.pid]
        assert tagged.wait(timeout=10) < 0
        assert other.poll() is None
    finally:
        for p in (tagged, other):
            p.kill()
            p.wait()


def test_a_journal_locked_by_its_writer_is_waited_for_then_taken_anyway(tmp_path: Path) -> None:
    path = tmp_path / "1.records"
    path.write_bytes(_started("x", 99_999_998) + b"= 99999998 0\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a live spawner holds it
        assert reap_leftovers(str(tmp_path), patience=0.1).exits == {"x": 0}
        clear_leftovers(str(tmp_path))
        assert path.exists()  # still locked: not ours to remove
    finally:
        os.close(fd)
    clear_leftovers(str(tmp_path))
    assert not path.exists()
