"""A manager's result files on a real filesystem: reserved before a task starts, taken
away once its result is durable, recycled through a few spare files, none left behind."""

from __future__ import annotations

import os
from pathlib import Path

from treadle.manager._files import RESERVE, SPARES, Files, clear_spares, spare_dir

MANAGER = 42


def written(path: Path, value: bytes) -> None:
    """What a task's process does: its value over the reservation, renamed into place."""
    part = f"{path}.part"
    fd = os.open(part, os.O_WRONLY)
    try:
        os.write(fd, value)
        os.ftruncate(fd, len(value))
    finally:
        os.close(fd)
    os.replace(part, path)


def allocated(path: str | Path) -> int:
    return os.stat(path).st_blocks * 512


async def test_a_result_file_is_recycled_into_the_next_reservation(tmp_path: Path) -> None:
    files = Files()
    spares = spare_dir(tmp_path, MANAGER)
    files.spares_in(spares)
    first, second = tmp_path / "T1.1.json", tmp_path / "T2.1.json"
    assert await files.reserve(first)
    assert allocated(f"{first}.part") >= RESERVE
    written(first, b"42")
    files.remove([first])
    await files.reserve(second)  # after the removal: one job at a time, in order
    assert not first.exists()
    assert sorted(os.listdir(tmp_path)) == [".spare-42", "T2.1.json.part"]
    assert os.listdir(spares) == []  # the spare became the new reservation
    assert allocated(f"{second}.part") >= RESERVE
    files.close()
    assert not spares.exists()


async def test_an_unused_reservation_is_recycled_too_and_close_removes_every_spare(
    tmp_path: Path,
) -> None:
    files = Files()
    spares = spare_dir(tmp_path, MANAGER)
    files.spares_in(spares)
    paths = [tmp_path / f"T{i}.1.json" for i in range(SPARES + 5)]
    for path in paths:
        assert await files.reserve(path)
    written(paths[0], b"1")
    files.remove(paths)  # one with its value, the rest reserved and never written
    extra = tmp_path / "T0.1.json"
    assert await files.reserve(extra)  # after the removal: one job at a time, in order
    assert len(os.listdir(spares)) == SPARES - 1  # at most SPARES kept; one taken again
    assert sorted(os.listdir(tmp_path)) == [".spare-42", "T0.1.json.part"]
    files.remove([extra])
    files.close()
    assert os.listdir(tmp_path) == []


async def test_without_spares_files_are_removed(tmp_path: Path) -> None:
    files = Files()
    path = tmp_path / "T1.1.json"
    assert await files.reserve(path)
    written(path, b"[]")
    files.remove([path])
    files.close()
    assert os.listdir(tmp_path) == []


def test_a_dead_managers_spares_are_cleared(tmp_path: Path) -> None:
    spares = spare_dir(tmp_path, MANAGER)
    spares.mkdir()
    (spares / "1").write_bytes(b"")
    clear_spares(tmp_path, MANAGER)
    assert os.listdir(tmp_path) == []
    clear_spares(tmp_path, MANAGER)  # none left: nothing to do
