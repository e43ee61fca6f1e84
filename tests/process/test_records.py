"""The record journal: one append per start and per end, what a reaper makes of it (real
processes; the journal read back from its file)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psutil

from treadle.process import _records
from treadle.process._records import reap_leftovers, remove_record, write_record


def _journal_of(directory: Path) -> Path:
    return directory / f"{os.getpid()}.records"


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def test_a_reaper_kills_what_is_recorded_and_spares_what_ended(tmp_path: Path) -> None:
    records = str(tmp_path / "procs")
    left, ended = _sleeper(), _sleeper()
    try:
        write_record(records, "left", left.pid)
        write_record(records, "ended", ended.pid)
        remove_record(records, ended.pid)  # it was reaped: a reaper must not touch it
        assert reap_leftovers(records) == [left.pid]
        assert left.wait(timeout=10) < 0
        assert ended.poll() is None
        assert not _journal_of(tmp_path / "procs").exists()  # the reaper removed it
    finally:
        for p in (left, ended):
            p.kill()
            p.wait()
        _records._journals.pop((os.getpid(), records), None)


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    records = tmp_path / "procs"
    records.mkdir()
    survivor = _sleeper()
    try:
        pid, created = survivor.pid, psutil.Process(survivor.pid).create_time()
        whole = json.dumps({"name": "s", "pid": pid, "pgid": pid, "created": created})
        (records / "1.records").write_text(f'+ {whole}\n+ {{"name": "cut", "pid": 12')
        assert reap_leftovers(str(records)) == [survivor.pid]
        assert survivor.wait(timeout=10) < 0
    finally:
        survivor.kill()
        survivor.wait()


def test_the_journal_empties_when_no_child_is_left_and_is_rewritten_when_ended_pile_up(
    tmp_path: Path,
) -> None:
    records = str(tmp_path / "procs")
    journal = _journal_of(tmp_path / "procs")
    keeper = _sleeper()
    try:
        write_record(records, "keeper", keeper.pid)
        shorts = range(5_000_000, 5_000_000 + _records._COMPACT + 5)  # past any pid_max here
        for pid in shorts:  # many short children beside one long one: only the lines count
            _records._journal(records).add("short", pid, 0.0)
            remove_record(records, pid)
        lines = journal.read_bytes().splitlines()
        assert lines[0].startswith(b'+ {"name": "keeper"')
        assert len(lines) == 1 + 2 * 5  # rewritten once: the keeper's line and those since
        remove_record(records, keeper.pid)
        assert journal.read_bytes() == b""  # nothing left to reap: emptied
    finally:
        keeper.kill()
        keeper.wait()
        _records._journals.pop((os.getpid(), records), None)
