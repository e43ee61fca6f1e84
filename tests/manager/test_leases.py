"""Leases in the broker's database, on SQLite and on the real PostgreSQL server: renewed
with the token held, refused once seized, and seized only when run out (or forced)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from treadle.broker import Broker
from treadle.manager import _leases

from ..fleet._support import schema


@pytest.fixture(params=["sqlite", "postgresql"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    if request.param == "sqlite":
        b = Broker(tmp_path / "broker.db")
        try:
            yield b
        finally:
            b.close()
        return
    with schema() as url:
        b = Broker(url)
        try:
            yield b
        finally:
            b.close()


def expire(broker: Broker, name: str) -> None:
    """The lease ran out (as if its holder had been frozen past it)."""
    statement = "UPDATE treadle_leases SET expires_at = expires_at - 3600 WHERE name = ?"
    broker.sql(statement, (name,), fetch=False)


def test_the_holder_renews_with_its_token_and_its_deadline_moves_on(broker: Broker) -> None:
    lease = _leases.acquire(broker, "manager:1", 1, 5.0)
    assert lease is not None
    renewed = _leases.renew(broker, lease, 5.0)
    assert renewed is not None
    assert renewed.token == lease.token
    assert renewed.deadline >= lease.deadline


def test_a_seized_lease_cannot_be_renewed_by_its_old_holder(broker: Broker) -> None:
    lease = _leases.acquire(broker, "manager:1", 1, 5.0)
    assert lease is not None
    assert not _leases.seize(broker, "manager:1", 2, 5.0)  # still running: not yet
    expire(broker, "manager:1")
    assert _leases.seize(broker, "manager:1", 2, 5.0)
    assert _leases.renew(broker, lease, 5.0) is None  # the database refuses the stale token
    assert not _leases.seize(broker, "manager:1", 3, 5.0)  # one recoverer at a time
    held = _leases.current(broker, "manager:1")
    assert held is not None
    assert held[:2] == (2, lease.token + 1)


def test_a_run_out_lease_nobody_seized_is_renewed_by_its_holder(broker: Broker) -> None:
    # a manager back from a broker that refused every writer: nobody acted on its tasks
    lease = _leases.acquire(broker, "manager:1", 1, 5.0)
    assert lease is not None
    expire(broker, "manager:1")
    renewed = _leases.renew(broker, lease, 5.0)
    assert renewed is not None
    assert renewed.token == lease.token


def test_a_gone_holders_lease_is_seized_at_once_by_one_recoverer(broker: Broker) -> None:
    lease = _leases.acquire(broker, "manager:1", 1, 60.0)
    assert lease is not None
    assert _leases.seize(broker, "manager:1", 2, 5.0, gone=1)
    assert not _leases.seize(broker, "manager:1", 3, 5.0, gone=1)  # 2 has it: not the dead
    assert _leases.renew(broker, lease, 5.0) is None


def test_a_released_lease_cannot_be_renewed(broker: Broker) -> None:
    lease = _leases.acquire(broker, "manager:1", 1, 5.0)
    assert lease is not None
    _leases.release(broker, "manager:1", 1)
    assert _leases.renew(broker, lease, 5.0) is None
    assert _leases.seize(broker, "manager:1", 2, 5.0)  # a row made anew for the recoverer


def test_the_local_deadline_comes_before_the_databases_expiry(broker: Broker) -> None:
    lease = _leases.acquire(broker, "manager:1", 1, 5.0)
    assert lease is not None
    held = _leases.current(broker, "manager:1")
    now = time.monotonic()
    assert held is not None
    # seconds left by the holder's clock, and by the database's (a clock of its own)
    assert lease.deadline - now <= held[2] + 0.05


def test_keep_renews_both_leases_a_leader_holds_and_tells_who_leads(broker: Broker) -> None:
    own = _leases.acquire(broker, "manager:1", 1, 5.0)
    leader = _leases.acquire(broker, _leases.LEADER, 1, 5.0)
    assert own is not None
    assert leader is not None
    for held in (None, leader):  # as one transaction, then as one statement
        renewed, kept, seen = _leases.keep(broker, own, 5.0, True, held)
        assert renewed is not None
        assert kept is not None
        assert renewed.deadline >= own.deadline
        assert kept.deadline >= leader.deadline
        assert kept.token == leader.token
        assert seen is not None
        assert seen[:2] == (1, leader.token)


def test_keep_refuses_a_seized_own_lease_and_finds_a_lost_leadership(broker: Broker) -> None:
    own = _leases.acquire(broker, "manager:1", 1, 5.0)
    leader = _leases.acquire(broker, _leases.LEADER, 1, 5.0)
    assert own is not None
    assert leader is not None
    expire(broker, _leases.LEADER)
    other = _leases.acquire(broker, _leases.LEADER, 2, 5.0)
    assert other is not None
    renewed, kept, seen = _leases.keep(broker, own, 5.0, True, leader)
    assert renewed is not None
    assert kept is None  # another leads now: it does not take it back
    assert seen is not None
    assert seen[:2] == (2, other.token)
    expire(broker, "manager:1")
    assert _leases.seize(broker, "manager:1", 3, 5.0)
    assert _leases.keep(broker, own, 5.0, True, None) == (None, None, None)
    assert _leases.keep(broker, own, 5.0, True, leader) == (None, None, None)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_managers_starting_at_once_on_a_new_database_all_get_an_answer(
    backend: str, tmp_path: Path
) -> None:
    """Eight holders asking for the leader lease at once, on a database where the lease
    table does not exist yet: each gets an answer (one holds it), none an error. On
    PostgreSQL, CREATE TABLE IF NOT EXISTS alone fails one of two racing creators
    ("type treadle_leases already exists"): a second manager of a new fleet died of it."""
    with contextlib.ExitStack() as stack:
        url = str(tmp_path / "broker.db") if backend == "sqlite" else stack.enter_context(schema())
        gate = threading.Barrier(8)

        def ask(holder: int) -> _leases.Lease | None:
            with Broker(url) as broker:  # opened, used and closed on its thread
                gate.wait(timeout=10)
                return _leases.acquire(broker, _leases.LEADER, holder, 30.0)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(1, 9)))
    assert len([a for a in answers if a is not None]) == 1
