"""Receipts: one request ID, at most one task, whichever writer comes first (a real
broker file, and a real manager for the late acceptance)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from treadle._wire import RECEIPT_EPOCH, Submission, new_request, receipt_id
from treadle.broker import names
from treadle.client import Client
from treadle.manager import _receipts

from ._support import manager
from .test_local import address


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def test_receipt_ids_are_below_every_broker_timestamp(client: Client) -> None:
    ids = {receipt_id(new_request()) for _ in range(1000)}
    assert len(ids) == 1000
    assert max(ids) < 2**60 < client.broker.timestamp()
    for bad in ("", "12-zz", "x-" + "0" * 24, f"{RECEIPT_EPOCH - 1}-" + "0" * 24):
        with pytest.raises(ValueError, match="request ID"):
            receipt_id(bad)


def test_the_second_writer_of_a_request_writes_nothing_and_learns_the_tid(
    client: Client,
) -> None:
    request = new_request()
    first = client.submit_request({"argv": ["true"]}, request)
    second = client.submit_request({"argv": ["true"]}, request)
    assert second.tid == first.tid
    assert [mid for _, mid in client.broker.peek_raw(names.SPAWN)] == [first.tid]
    other = client.submit_request({"argv": ["true"]}, new_request())
    assert other.tid != first.tid
    assert len(client.broker.peek_raw(names.SPAWN)) == 2


def test_a_late_acceptance_runs_nothing_more(client: Client) -> None:
    """The client queued the request itself (its manager did not answer in time); the
    manager reads the same request afterwards: it answers with the queued TID and the
    task runs once."""
    request = new_request()
    queued = client.submit_request({"argv": ["true"]}, request)
    with manager(client):
        with Submission(address(client)) as s:
            late = s.submit({"argv": ["true"]}, False, request)
        assert (late["tid"], late["queued"]) == (queued.tid, True)
        assert client.wait(queued.tid, timeout=30).ok
    assert [t.tid for t in client.tasks()] == [queued.tid]
    assert [e.event for e in client.events(queued.tid)] == ["starting", "started", "completed"]


def test_a_fallback_after_the_manager_accepted_reports_the_managers_tid(
    client: Client,
) -> None:
    request = new_request()
    with manager(client):
        with Submission(address(client)) as s:
            accepted = s.submit({"argv": ["true"]}, False, request)
        fallback = client.submit_request({"argv": ["true"]}, request)
        assert fallback.tid == accepted["tid"]
        assert client.wait(fallback.tid, timeout=30).ok
    assert [t.tid for t in client.tasks()] == [fallback.tid]


def test_old_receipts_are_pruned_and_old_requests_refused(client: Client) -> None:
    now = time.time()
    old = f"{int(now - _receipts.KEEP - 10)}-" + "ab" * 12
    fresh = new_request()
    for request in (old, fresh):
        client.submit_request({"argv": ["true"]}, request)
    assert _receipts.prune(client.broker, now) == 1
    [(text, _)] = client.broker.peek_raw(_receipts.QUEUE)
    assert fresh in text
    assert _receipts.age(old, now) > _receipts.MAX_AGE
    too_old = pytest.raises(OSError, match="too old")
    with manager(client), Submission(address(client)) as s, too_old:
        s.submit({"argv": ["true"]}, False, old)
