"""A warm worker's value journal on disk: records read back whole, or not at all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadle.manager._values import RECORD_MAX, REGION, journal_dir, read, read_all, record

pytestmark = pytest.mark.timeout(60)


def write(path: Path, at: int, data: bytes) -> int:
    """pwrite ``data`` at ``at``, as a worker does; where the next record goes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, data, at)
    finally:
        os.close(fd)
    return at + len(data) - 1  # its NUL is overwritten by the next


def journal(tmp_path: Path) -> Path:
    path = tmp_path / "W1-abcd"
    with open(path, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, 2 * REGION)
    return path


def test_records_read_back_by_tid_and_attempt(tmp_path: Path) -> None:
    path = journal(tmp_path)
    at = write(path, 0, record(7, 1, b'{"a": [1, 2]}'))
    at = write(path, at, record(8, 2, b'"\\n\\u0000 x"'))
    write(path, REGION, record(9, 1, b"null"))
    assert read(path) == {(7, 1): b'{"a": [1, 2]}', (8, 2): b'"\\n\\u0000 x"', (9, 1): b"null"}


def test_a_record_cut_short_or_changed_ends_its_region(tmp_path: Path) -> None:
    path = journal(tmp_path)
    first = record(1, 1, b"1")
    at = write(path, 0, first)
    whole = record(2, 1, b'"' + b"x" * 5000 + b'"')
    write(path, at, whole[:3000])  # a worker killed in the middle of its write
    assert read(path) == {(1, 1): b"1"}
    changed = whole.replace(b"xxx", b"xyx", 1)  # same length, another CRC
    write(path, at, changed)
    assert read(path) == {(1, 1): b"1"}
    write(path, at, whole)
    assert set(read(path)) == {(1, 1), (2, 1)}


def test_what_follows_the_nul_is_stale_and_not_read(tmp_path: Path) -> None:
    path = journal(tmp_path)
    at = 0
    for tid in range(1, 6):
        at = write(path, at, record(tid, 1, b"%d" % tid))
    write(path, 0, record(10, 1, b"10"))  # the region written again from its start
    assert read(path) == {(10, 1): b"10"}


def test_a_missing_journal_or_directory_holds_nothing(tmp_path: Path) -> None:
    assert read(tmp_path / "nothing") == {}
    assert read_all(tmp_path / "nowhere") == {}
    assert journal_dir(tmp_path, 42) == f"{tmp_path}/.values-42"


def test_every_journal_of_a_directory_is_read(tmp_path: Path) -> None:
    where = Path(journal_dir(tmp_path, 5))
    where.mkdir()
    write(where / "W1-aa", 0, record(1, 1, b"1"))
    write(where / "W2-bb", 0, record(2, 1, b"2"))
    assert read_all(where) == {(1, 1): b"1", (2, 1): b"2"}


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(values, st.booleans()), min_size=1, max_size=40))
def test_the_last_pass_over_each_region_is_what_is_read(
    tmp_path_factory: pytest.TempPathFactory, writes: list[tuple[object, bool]]
) -> None:
    """Records written the way a manager places them (a region rewound from its start,
    or the other region, at some points) read back as the latest pass over each."""
    path = journal(tmp_path_factory.mktemp("j"))
    region, at = 0, 0
    passes: list[dict[tuple[int, int], bytes]] = [{}, {}]
    for tid, (value, rewind) in enumerate(writes, start=1):
        if rewind:  # the other region, from its start
            region = 1 - region
            at, passes[region] = region * REGION, {}
        data = json.dumps(value).encode()
        rec = record(tid, 1, data)
        assert len(rec) <= RECORD_MAX
        if at + RECORD_MAX > (region + 1) * REGION:
            region = 1 - region
            at, passes[region] = region * REGION, {}
        at = write(path, at, rec)
        passes[region][(tid, 1)] = data
    assert read(path) == {**passes[0], **passes[1]}
