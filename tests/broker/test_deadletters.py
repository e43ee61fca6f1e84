"""Bad messages cost only themselves: bounded letters, and readers that never stop on one."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.broker import Broker, DeadLetter, TaskEvent, WorkerRecord, names
from treadle.broker._messages import ERROR_KEPT, RAW_KEPT
from treadle.client._tasks import log_of
from treadle.manager import _registry


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with Broker(tmp_path / "broker.db") as b:
        yield b


def letters(broker: Broker) -> list[DeadLetter]:
    return [
        d for d, _ in broker.peek(names.DEADLETTER, DeadLetter.model_validate_json, limit=10**6)
    ]


def no_letters(path: Path) -> None:
    """The database itself refuses dead letters from now on (a real SQLite failure)."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER no_letters BEFORE INSERT ON messages"
            f" WHEN NEW.queue = '{names.DEADLETTER}' BEGIN SELECT RAISE(ABORT, 'no'); END"
        )


def test_a_letter_is_bounded_whatever_the_message(broker: Broker) -> None:
    raw = '{"tid": 5, "argv": ["' + '"' * 6_000_000 + '"]}'  # 12 MB once escaped in JSON
    mid = broker.write(names.SPAWN, raw)
    assert broker.peek(names.SPAWN, TaskEvent.model_validate_json) == []
    [letter] = letters(broker)
    assert letter.message_id == mid
    assert letter.raw == raw[:RAW_KEPT]
    assert letter.cut
    assert letter.raw_bytes == len(raw.encode())
    assert letter.raw_sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert "Invalid JSON" in letter.error
    assert not broker.has_pending(names.SPAWN)


def test_a_letter_of_anything_is_writable() -> None:
    letter = DeadLetter.of("q", None, "a\ud800b" * 10, "x" * 100_000)
    assert letter.raw.startswith("a\\ud800b")  # a lone surrogate, kept escaped
    assert len(letter.error) == ERROR_KEPT
    assert letter.raw_bytes == 50  # the surrogate as 3 bytes
    DeadLetter.model_validate_json(letter.model_dump_json())


# simplebroker takes the refusal for a timestamp conflict, tries again, and warns
@pytest.mark.filterwarnings("ignore:Timestamp conflict:RuntimeWarning")
def test_a_refused_letter_leaves_its_message_and_the_readers_go_on(
    broker: Broker, tmp_path: Path
) -> None:
    first = broker.write(names.TASK_LOG, "not json")
    good = TaskEvent(tid=7, event="completed")
    broker.write(names.TASK_LOG, good)
    no_letters(tmp_path / "broker.db")
    assert broker.dead_letter(names.TASK_LOG, first, "not json", "bad") is False
    assert [e for e, _ in broker.peek(names.TASK_LOG, TaskEvent.model_validate_json)] == [good]
    assert broker.peek_raw(names.TASK_LOG)[0][1] == first  # left where it was


def test_peek_pages_past_any_number_of_invalid_messages(broker: Broker) -> None:
    broker.insert(names.TASK_LOG, [("garbage", broker.timestamp()) for _ in range(1500)])
    events = [TaskEvent(tid=n, event="completed") for n in (1, 2, 3)]
    for event in events:
        broker.write(names.TASK_LOG, event)
    assert log_of(broker) == events  # not an empty first page taken for the end
    assert len(letters(broker)) == 1500


def test_forged_registry_records_stop_neither_listing_nor_recovery(
    broker: Broker, tmp_path: Path
) -> None:
    record = WorkerRecord(
        tid=broker.timestamp(),
        status="active",
        pid=1,
        host="elsewhere",
        started_at=0.0,
        heartbeat_at=1e18,
    )
    good = record.model_dump()
    forged = [
        "not json",
        '{"tid": 1}',
        record.model_copy(update={"tid": 2**80}).model_dump_json(),  # beyond SQLite's integers
        record.model_copy(update={"pid": -1, "host": _registry.HOST}).model_dump_json(),
        record.model_copy(update={"heartbeat_interval": float("nan")}).model_dump_json(),
        '{"tid": 5, "pid": 1' + " " * 6_000_000 + "}",
    ]
    mids = [broker.write(names.REGISTRY, text) for text in forged]
    broker.write(names.REGISTRY, WorkerRecord.model_validate(good))
    broker.write(names.TASK_LOG, f'{{"tid": 5, "event": "started", "manager": {2**80}}}')
    assert list(_registry.latest(broker)) == [record.tid]
    assert _registry.recover(broker, by=1, state_dir=str(tmp_path)) == []
    assert {d.message_id for d in letters(broker)} >= set(mids)


def test_a_row_that_is_not_utf8_costs_only_itself(tmp_path: Path) -> None:
    # simplebroker cannot write one; a program writing the SQLite file around it can
    path = tmp_path / "broker.db"
    with contextlib.closing(Broker(path)) as broker:
        first = broker.write("q", "one")
        bad = broker.timestamp()
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute(
                "INSERT INTO messages (queue, body, ts, claimed) VALUES (?, CAST(? AS TEXT), ?, 0)",
                ("q", b'{"x": "\xff\xfe"}', bad),
            )
        last = broker.write("q", "two")
        assert broker.peek_raw("q") == [("one", first), ("two", last)]
        [letter] = broker.peek(names.DEADLETTER, DeadLetter.model_validate_json)
        assert letter[0].message_id == bad
        assert "not UTF-8" in letter[0].error
        assert broker.take("q") == ("one", first)
