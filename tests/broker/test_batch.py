"""Broker.write_many: many messages, any queues, one transaction, in order, all or none."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.broker import Broker

from ..fleet._support import schema

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "broker.db")
    else:
        with schema() as pg:
            yield pg


def test_many_queues_in_order_after_what_came_before(url: str) -> None:
    with Broker(url) as a, Broker(url) as b:
        first = b.write("q0", "before")
        ids = a.write_many([(f"q{i % 3}", f"m{i}") for i in range(10)])
        last = b.write("q0", "after")
        assert ids == sorted(ids)
        assert len(set(ids)) == 10
        assert first < ids[0]
        assert ids[-1] < last
        for k in range(3):
            got = [text for text, _ in a.peek_raw(f"q{k}", limit=100)]
            expected = [f"m{i}" for i in range(10) if i % 3 == k]
            assert got == (["before", *expected, "after"] if k == 0 else expected)


@pytest.mark.parametrize("count", [1, 2, 5, 21, 85, 150])
def test_every_size_of_batch_keeps_each_message_its_text_queue_and_place(
    url: str, count: int
) -> None:
    """Batches go to the database in multi-row statements of fixed sizes (64, 16, 4, 1
    rows): whatever the count, each message lands once, whole, on its queue, in order,
    under the ID returned for it."""
    texts = [f"m{i} 'quoted' %s ? ?? \\ {'x' * i}" for i in range(count)]
    with Broker(url) as broker:
        ids = broker.write_many([(f"q{i % 4}", text) for i, text in enumerate(texts)])
        assert ids == sorted(ids)
        assert len(set(ids)) == count
        for k in range(4):
            got = broker.peek_raw(f"q{k}", limit=1000)
            expected = [(text, ids[i]) for i, text in enumerate(texts) if i % 4 == k]
            assert got == expected


def test_all_or_none(url: str) -> None:
    with Broker(url) as broker:
        broker.write("kept", "one")
        with pytest.raises(Exception, match=r"(?i)queue"):
            broker.write_many([("kept", "two"), ("bad queue name!", "x"), ("kept", "three")])
        with pytest.raises(Exception, match=r"(?i)size"):
            broker.write_many([("kept", "two"), ("kept", "x" * (11 * 1024 * 1024))])
        assert [t for t, _ in broker.peek_raw("kept", limit=10)] == ["one"]
        assert broker.write_many([]) == []
        (only,) = broker.write_many([("kept", "two")])
        assert broker.peek_raw("kept", limit=10)[-1] == ("two", only)


_WRITER = """
import sys
from treadle.broker import Broker
with Broker(sys.argv[1]) as b:
    for i in range(40):
        b.write_many([("q", f"{sys.argv[2]}-{i}-{k}") for k in range(5)])
"""


def test_a_reader_that_follows_by_id_misses_nothing(url: str) -> None:
    """Batches from several processes at once: every message lands above every ID a
    reader has already seen (what ``peek --after`` followers rely on)."""
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, url, str(w)]) for w in range(3)]
    seen: list[str] = []
    after: int | None = None
    with Broker(url) as reader:
        try:
            while True:
                running = any(w.poll() is None for w in writers)
                page = reader.peek_raw("q", after=after, limit=1000)
                seen += [text for text, _ in page]
                if page:
                    after = page[-1][1]
                elif not running:
                    break
        finally:
            for w in writers:
                w.wait(timeout=30)
        everything = [text for text, _ in reader.peek_raw("q", limit=1000)]
    assert all(w.returncode == 0 for w in writers)
    assert len(everything) == 3 * 40 * 5
    assert seen == everything
