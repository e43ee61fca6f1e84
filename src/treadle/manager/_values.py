"""The value journal of a warm worker, on disk: :func:`record` and :func:`read`.

A function task's return value must outlive its manager from the moment the function
returns: a manager killed before the value is durable in the broker leaves it to its
recoverer, which completes the task with it rather than failing or re-running it (the
guarantee "a completed task is never re-run or reported failed"). A task in a fresh
interpreter writes its value to a file of its own (``T{tid}.{attempt}.json``, over space
its manager reserved). A warm worker runs hundreds of tasks a second, and a file created,
written, renamed and removed per task cost its manager about a third of its time; so a
worker writes each value into one journal file of its own instead, at the offset its
manager gives it, with one ``pwrite``: in the page cache before the worker replies, it
survives the death of any process.

The file is two regions of :data:`REGION` bytes, reserved (``posix_fallocate``) before
the worker's first task. A record is written only where :data:`RECORD_MAX` bytes are
free in the region (a larger value goes to a file of the task's own, as before), and
is followed by a NUL byte, which the next record overwrites: a reader takes a region's
records from its start up to the first NUL, or the first record that does not check out
(its length or its CRC: a worker killed in the middle of a write). The manager writes a
region again from its start only once every value in it is durable (``_journal``), so
what lies past the NUL is stale and never needed.

A record: ``{tid}.{attempt} {length} {crc32:08x}\\n`` then the value's JSON and ``\\n``.

It uses the standard library only: a warm worker imports it without importing treadle.
"""

from __future__ import annotations

import os
import zlib

__all__ = ["RECORD_MAX", "REGION", "journal_dir", "read", "read_all", "record"]

REGION = 256 * 1024  # bytes of one region (two a journal)
RECORD_MAX = 64 * 1024  # bytes a record may take, its NUL included (a larger one: a file)


def journal_dir(results: str | os.PathLike[str], manager: int) -> str:
    """Where manager ``manager``'s workers keep their journals."""
    return f"{os.fspath(results)}/.values-{manager}"


def record(tid: int, attempt: int, value: bytes) -> bytes:
    """The bytes a worker writes for one value: the record, then the NUL that ends the
    region's records for now."""
    head = b"%d.%d %d %08x\n" % (tid, attempt, len(value), zlib.crc32(value))
    return head + value + b"\n\0"


def read(path: str | os.PathLike[str]) -> dict[tuple[int, int], bytes]:
    """The values a journal holds, by (tid, attempt): the JSON of each, as written."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(data), REGION):
        _region(data, start, min(start + REGION, len(data)), found)
    return found


def _region(data: bytes, at: int, end: int, found: dict[tuple[int, int], bytes]) -> None:
    while at < end and data[at] != 0:
        eol = data.find(b"\n", at, min(end, at + 64))
        if eol < 0:
            return
        try:
            name, length, crc = data[at:eol].split(b" ")
            tid, attempt = (int(part) for part in name.split(b"."))
            size, check = int(length), int(crc, 16)
        except ValueError:
            return  # not a record: a write cut short, or stale bytes
        value = data[eol + 1 : eol + 1 + size]
        stop = eol + 1 + size
        if len(value) != size or data[stop : stop + 1] != b"\n" or zlib.crc32(value) != check:
            return
        found[(tid, attempt)] = value
        at = stop + 1


def read_all(directory: str | os.PathLike[str]) -> dict[tuple[int, int], bytes]:
    """The values in every journal of ``directory`` (a manager's: see :func:`journal_dir`)."""
    found: dict[tuple[int, int], bytes] = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for name in names:
        found.update(read(f"{os.fspath(directory)}/{name}"))
    return found
