"""A worker's value journal as its manager keeps it, on a real file and the real files
thread: its space reserved before the first record, a region written again only once
every value in it is durable, the file gone with its worker and its last value."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from treadle.manager._files import Files
from treadle.manager._journal import Journal
from treadle.manager._values import RECORD_MAX, REGION

pytestmark = pytest.mark.timeout(60)


async def reserved(journal: Journal) -> int:
    assert journal.place() is None  # nothing may be written before its space is reserved
    assert await journal.wait() is True
    at = journal.place()
    assert at is not None
    return at


def fill(journal: Journal) -> list[int]:
    """Records of RECORD_MAX bytes until the region is full; the regions they went in."""
    regions: list[int] = []
    while (at := journal.place()) is not None and not (regions and at % REGION == 0):
        regions.append(journal.wrote(at + RECORD_MAX))
    return regions


async def test_its_space_is_reserved_before_the_first_record(tmp_path: Path) -> None:
    files = Files()
    journal = Journal(str(tmp_path / "W1-aa"), files)
    assert await reserved(journal) == 0
    assert os.stat(journal.path).st_blocks * 512 >= 2 * REGION
    files.close()


async def test_a_failed_reservation_says_so_and_is_asked_again(tmp_path: Path) -> None:
    files = Files()
    journal = Journal(str(tmp_path / "not-yet" / "W1-aa"), files)
    assert await journal.wait() is False  # (its directory is missing: no file, no space)
    assert journal.place() is None
    (tmp_path / "not-yet").mkdir()
    assert await journal.wait() is True
    assert journal.place() == 0
    files.close()


async def test_a_region_is_written_again_only_once_its_values_are_durable(
    tmp_path: Path,
) -> None:
    files = Files()
    journal = Journal(str(tmp_path / "W1-aa"), files)
    await reserved(journal)
    first = fill(journal)
    assert set(first) == {0}
    assert journal.place() == REGION  # region 1: nothing in it is waited for
    second = [journal.wrote(REGION + RECORD_MAX)]
    second += fill(journal)
    assert set(second) == {1}
    assert journal.place() is None  # region 0 still holds values not durable
    freed = journal.wait()
    for region in first[:-1]:
        journal.durable(region)
        assert not freed.done()
    journal.durable(first[-1])
    assert await asyncio.wait_for(freed, 5) is True
    assert journal.place() == 0  # from its start again
    files.close()


async def test_it_goes_with_its_worker_once_its_last_value_is_durable(tmp_path: Path) -> None:
    files = Files()
    journal = Journal(str(tmp_path / "W1-aa"), files)
    at = await reserved(journal)
    region = journal.wrote(at + 40)
    journal.end()  # its worker ended with a value not yet durable: kept for a recoverer
    await asyncio.to_thread(files.close)  # (every job asked so far is done)
    assert Path(journal.path).exists()
    journal.durable(region)
    await asyncio.to_thread(files.close)
    assert not Path(journal.path).exists()


async def test_close_removes_the_directory_of_journals_once_it_is_empty(tmp_path: Path) -> None:
    files = Files()
    where = tmp_path / ".values-7"
    where.mkdir()
    files.journals_in(str(where))
    kept = Journal(str(where / "W1-aa"), files)
    await reserved(kept)
    kept.wrote(40)
    kept.end()
    await asyncio.to_thread(files.close)
    assert where.exists()  # a value in it is not durable: its recoverer reads it
    files = Files()
    files.journals_in(str(where))
    gone = Journal(str(where / "W2-bb"), files)
    await reserved(gone)
    gone.end()
    os.unlink(kept.path)
    await asyncio.to_thread(files.close)
    assert not where.exists()
