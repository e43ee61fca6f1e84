"""Output bounds: the broker keeps a bounded part of each task's output, every cut is
marked, and the task's log file has all of it."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.broker import OutboxAdapter, Output, Result, names
from treadle.client import Client

from ._support import stop

BUDGET = 4 * 1024 * 1024  # the manager's default output_limit
LONG = 50_000_000  # one line of it
MANY = 100_000  # lines of 1,000 bytes: 100 MB


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def broker_bytes(client: Client) -> int:
    db = Path(client.url.location)
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def outbox(client: Client, tid: int) -> list[tuple[str, int]]:
    return client.broker.peek_raw(names.outbox(tid), limit=100_000)


def printed(client: Client, tid: int) -> list[str]:
    lines: list[str] = []
    for raw, _ in outbox(client, tid):
        message = OutboxAdapter.validate_json(raw)
        if isinstance(message, Output):
            lines.extend(message.lines)
    return lines


def log_lines(path: Path) -> list[str]:
    """The task's log, old files first, each line without its time and stream."""
    files = sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]))
    out: list[str] = []
    for file in [*files, path]:
        with file.open(encoding="utf-8") as f:
            out.extend(line.rstrip("\n").split(" ", 3)[3] for line in f)
    return out


@pytest.mark.timeout(240)
def test_a_50_mb_line_and_100_mb_of_lines_cost_the_broker_its_budget(client: Client) -> None:
    python = sys.executable
    one_line = f"import sys; sys.stdout.write('x' * {LONG} + '\\n'); print('after')"
    many = (
        "import sys\n"
        "for i in range(0, 100_000, 1000):\n"
        "    sys.stdout.write(''.join(f'{n:08d}' + 'y' * 991 + '\\n'"
        " for n in range(i, i + 1000)))\n"
    )
    record, proc = client.start_manager()
    try:
        before = broker_bytes(client)
        long_spec = client.submit([python, "-c", one_line])
        many_spec = client.submit([python, "-c", many])
        long_result = client.wait(long_spec.tid, timeout=180)
        many_result = client.wait(many_spec.tid, timeout=180)
        grown = broker_bytes(client) - before
    finally:
        stop(client, record.tid, proc)
    assert long_result.ok, long_result
    assert many_result.ok, many_result

    # one line: cut to its limit, the cut marked, in the outbox and in the result's tail
    lines = printed(client, long_spec.tid)
    assert len(lines) == 2
    assert lines[0].startswith("x" * 65536)
    assert lines[0].endswith(" [… 47.6 MB cut]")
    assert lines[1] == "after"
    assert long_result.stdout.endswith("after\n")
    assert len(long_result.stdout) <= 64 * 1024 + 100

    # many lines: the first ones up to the budget, then one line saying the rest is not kept
    lines = printed(client, many_spec.tid)
    kept = lines[:-1]
    assert kept == [f"{n:08d}" + "y" * 991 for n in range(len(kept))]
    assert BUDGET - 1000 <= len(kept) * 1000 <= BUDGET
    logs = client.url.state_dir / "logs" / "tasks"
    mark = re.fullmatch(
        r"\[… (\d+) lines, ([\d.]+) MB not kept in the broker; the full output is in (.+)\]",
        lines[-1],
    )
    assert mark is not None, lines[-1]
    assert int(mark[1]) == MANY - len(kept)
    assert mark[3] == str(logs / f"T{many_spec.tid}.log")
    assert len(many_result.stdout) <= 64 * 1024
    assert many_result.stdout.endswith(f"{MANY - 1:08d}" + "y" * 991 + "\n")

    # the broker grew by the budget (and the two results' tails), not by 150 MB
    sizes = [len(raw) for tid in (long_spec.tid, many_spec.tid) for raw, _ in outbox(client, tid)]
    assert sum(sizes) <= BUDGET + 2 * 65536 + 4 * 65536 + 100_000
    assert grown <= 3 * BUDGET, grown  # the file and its WAL (it was 113 MB for 100 MB)

    # the log files have everything
    long_log = log_lines(logs / f"T{long_spec.tid}.log")
    assert long_log == ["x" * LONG, "after"]
    many_log = log_lines(logs / f"T{many_spec.tid}.log")
    assert many_log == [f"{n:08d}" + "y" * 991 for n in range(MANY)]


def test_the_limits_are_checked(client: Client, tmp_path: Path) -> None:
    from treadle._exceptions import ConfigError
    from treadle.manager import Manager

    with pytest.raises(ConfigError, match="line_limit"):
        Manager(str(tmp_path / "b.db"), line_limit=0)
    with pytest.raises(ConfigError, match="output_limit"):
        Manager(str(tmp_path / "b.db"), output_limit=-1)
    assert isinstance(Result(tid=1, state="completed"), Result)


@pytest.mark.timeout(60)
def test_the_budget_is_the_managers_to_set(client: Client) -> None:
    record, proc = client.start_manager(output_limit=100)
    try:
        spec = client.submit(argv=["seq", "1000"])  # 3,893 bytes
        result = client.wait(spec.tid, timeout=30)
    finally:
        stop(client, record.tid, proc)
    assert result.ok
    kept = printed(client, spec.tid)
    assert kept[:5] == ["1", "2", "3", "4", "5"]
    assert sum(len(line) + 1 for line in kept[:-1]) <= 100
    assert re.fullmatch(
        r"\[… \d+ lines, .* not kept in the broker; the full output is in .*\]", kept[-1]
    )
