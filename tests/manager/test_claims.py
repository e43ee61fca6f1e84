"""The claimer on a real SQLite broker: each request judged on its own, and a pass that
reads what is new, not what waits."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.broker import Broker, DeadLetter, TaskSpec, names
from treadle.manager._claims import SCAN, Claimer

MANAGER = 42
MINE = names.reserved(MANAGER)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with Broker(tmp_path / "broker.db") as b:
        yield b


def submit(broker: Broker, n: int, **fields: object) -> list[int]:
    tids = [broker.timestamp() for _ in range(n)]
    specs = [TaskSpec.model_validate({"argv": ["true"], **fields, "tid": t}) for t in tids]
    broker.insert(names.SPAWN, [(s, s.tid) for s in specs])
    return tids


def tids(taken: list[tuple[TaskSpec, int]]) -> list[int]:
    return [spec.tid for spec, _ in taken]


def test_unrunnable_requests_are_read_once_and_never_stand_in_front(broker: Broker) -> None:
    gpu = submit(broker, 250, capabilities=["gpu"], metadata={"pad": "x" * 20_000})
    plain = submit(broker, 10)
    claimer = Claimer((), lag=0)
    assert tids(claimer.claim(broker, MANAGER, free=32)) == plain
    assert claimer.read == 260
    assert claimer.unrunnable == set(gpu)
    assert claimer.cursor == plain[-1]
    for _ in range(5):  # nothing new: a pass reads nothing
        assert claimer.claim(broker, MANAGER, free=32) == []
    assert claimer.read == 260
    more = submit(broker, 3)
    assert tids(claimer.claim(broker, MANAGER, free=32)) == more
    assert claimer.read == 263


def test_a_pass_takes_no_more_than_its_free_slots_and_the_next_goes_on(broker: Broker) -> None:
    plain = submit(broker, 7)
    claimer = Claimer((), lag=0)
    assert tids(claimer.claim(broker, MANAGER, free=3)) == plain[:3]
    assert tids(claimer.claim(broker, MANAGER, free=3)) == plain[3:6]
    assert tids(claimer.claim(broker, MANAGER, free=3)) == plain[6:]


def test_the_last_seconds_are_read_again_for_a_tid_minted_before_it_was_written(
    broker: Broker,
) -> None:
    late = broker.timestamp()  # minted by a slow submitter...
    early = submit(broker, 1)
    claimer = Claimer((), lag=60)
    assert tids(claimer.claim(broker, MANAGER, free=8)) == early
    spec = TaskSpec(tid=late, argv=("true",))
    broker.insert(names.SPAWN, [(spec, late)])  # ...and written after a newer one was taken
    assert tids(claimer.claim(broker, MANAGER, free=8)) == [late]


def test_a_request_put_back_under_its_old_id_is_found_by_the_sweep(broker: Broker) -> None:
    clock = Clock()
    old = submit(broker, 1)
    gpu = submit(broker, 2 * SCAN + 5, capabilities=["gpu"])
    claimer = Claimer((), lag=0, sweep=10, clock=clock)
    assert tids(claimer.claim(broker, MANAGER, free=8)) == old
    # its manager died before starting it: recovery moves it back, under its old ID
    assert broker.move(MINE, names.SPAWN, old[0]) is not None
    submit(broker, 1, capabilities=["gpu"])
    assert claimer.claim(broker, MANAGER, free=8) == []  # behind where it looked
    assert not claimer.due()
    clock.now = 10.0
    assert claimer.due()
    before = claimer.read
    assert tids(claimer.claim(broker, MANAGER, free=8)) == old
    assert claimer.read - before <= SCAN  # a sweep reads a page a pass
    while claimer.sweep is not None:
        before = claimer.read
        claimer.claim(broker, MANAGER, free=8)
        assert claimer.read - before <= SCAN
    assert claimer.unrunnable >= set(gpu)
    assert [mid for _, mid in broker.peek_raw(MINE)] == old
    # put back again, by this manager's own recovery: it sweeps at once
    assert broker.move(MINE, names.SPAWN, old[0]) is not None
    assert not claimer.due()
    claimer.rescan()
    assert claimer.due()
    assert tids(claimer.claim(broker, MANAGER, free=8)) == old


def test_a_batch_with_bad_requests_in_it_claims_every_good_one(broker: Broker) -> None:
    first = submit(broker, 3)
    bad = [
        broker.write(names.SPAWN, "not json"),
        broker.write(names.SPAWN, '{"tid": 1, "argv": ["' + '"' * 6_000_000 + '"]}'),
        broker.write(names.SPAWN, TaskSpec(tid=first[0], argv=("true",)).model_dump_json()),
    ]
    last = submit(broker, 3)
    taken = Claimer((), lag=0).claim(broker, MANAGER, free=32)
    assert tids(taken) == first + last
    letters = broker.peek(names.DEADLETTER, DeadLetter.model_validate_json)
    assert [d.message_id for d, _ in letters] == bad
    assert "is not the request's message ID" in letters[2][0].error
    assert not broker.has_pending(names.SPAWN)
    assert sorted(mid for _, mid in broker.peek_raw(MINE)) == first + last


@pytest.mark.filterwarnings("ignore:Timestamp conflict:RuntimeWarning")
def test_a_letter_that_cannot_be_written_strands_nothing(broker: Broker, tmp_path: Path) -> None:
    good = submit(broker, 2)
    bad = broker.write(names.SPAWN, "not json")
    after = submit(broker, 2)
    with sqlite3.connect(tmp_path / "broker.db") as db:  # the database refuses letters
        db.execute(
            "CREATE TRIGGER no_letters BEFORE INSERT ON messages"
            f" WHEN NEW.queue = '{names.DEADLETTER}' BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    claimer = Claimer((), lag=0)
    assert tids(claimer.claim(broker, MANAGER, free=32)) == good + after
    assert not broker.has_pending(names.SPAWN)  # out of everyone's way...
    assert bad in {mid for _, mid in broker.peek_raw(MINE)}  # ...kept, for recovery to report
