"""What the cache holds, whether it is intact, and emptying it: :func:`list_cache`,
:func:`verify_cache` and :func:`clear_cache` (``treadle cache list|verify|clear``).

Owns the view over the directory and its ``checksums.txt``: each recorded file and each
file that is there without a record. Verifying hashes every file (the check the fast
path of a resolve leaves out); it changes nothing. Clearing takes each artifact's lock,
so it never removes a file under a download. The mechanism is :mod:`._cache`'s.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from ._cache import (
    CHECKSUMS,
    PARTIAL,
    Record,
    cache_dir,
    locked,
    read_records,
    sha256_file,
    update_records,
)

__all__ = ["CacheEntry", "EntryState", "Verification", "clear_cache", "list_cache", "verify_cache"]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One file of the cache, or one record without its file.

    Attributes:
        sha256: the recorded digest; None for a file without a record.
        name, version, platform: as recorded (None if unknown).
        size: the file's size now; None if it is missing.
    """

    path: Path
    sha256: str | None
    name: str | None
    version: str | None
    platform: str | None
    size: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.path.name,
            "path": str(self.path),
            "name": self.name,
            "version": self.version,
            "platform": self.platform,
            "size": self.size,
            "sha256": self.sha256,
        }


class EntryState(enum.Enum):
    OK = "ok"  # the file's sha256 is the recorded one
    MODIFIED = "modified"  # it is not: the file changed after it was verified
    MISSING = "missing"  # recorded, but the file is gone
    UNRECORDED = "unrecorded"  # a file no download recorded


@dataclass(frozen=True, slots=True)
class Verification:
    """One entry checked: ``actual`` is the file's sha256 now (None if it is missing)."""

    entry: CacheEntry
    state: EntryState
    actual: str | None

    def as_dict(self) -> dict[str, object]:
        return {**self.entry.as_dict(), "state": self.state.value, "actual": self.actual}


def list_cache(directory: Path | None = None) -> list[CacheEntry]:
    """Every recorded file and every unrecorded one, by file name (default directory:
    :func:`cache_dir`)."""
    where = cache_dir() if directory is None else directory
    records = read_records(where)
    files = _files(where)
    out = [_entry(where, records.get(name), name, files.get(name)) for name in files]
    out += [_entry(where, r, r.file, None) for r in records.values() if r.file not in files]
    return sorted(out, key=lambda e: e.path.name)


def verify_cache(directory: Path | None = None) -> list[Verification]:
    """Hash every cached file and compare it with its record."""
    out: list[Verification] = []
    for entry in list_cache(directory):
        if entry.size is None:
            out.append(Verification(entry, EntryState.MISSING, None))
            continue
        actual = sha256_file(entry.path)
        if entry.sha256 is None:
            state = EntryState.UNRECORDED
        else:
            state = EntryState.OK if actual == entry.sha256 else EntryState.MODIFIED
        out.append(Verification(entry, state, actual))
    return out


def clear_cache(name: str | None = None, directory: Path | None = None) -> list[Path]:
    """Remove every cached file (and its record), or those of artifact ``name`` (every
    version and platform); the paths removed. Files without a record go only with all."""
    where = cache_dir() if directory is None else directory
    removed: list[Path] = []
    forget: list[str] = []
    for entry in list_cache(where):
        if name is not None and entry.name != name:
            continue
        with locked(where, entry.path.name):
            if entry.size is not None:
                entry.path.unlink(missing_ok=True)
                removed.append(entry.path)
        if entry.sha256 is not None:
            forget.append(entry.path.name)
    if forget:
        update_records(where, remove=forget)
    return removed


def _files(directory: Path) -> dict[str, int]:
    """The cached files (not hidden, not checksums.txt, not partial): name → size."""
    try:
        scan = list(os.scandir(directory))
    except FileNotFoundError:
        return {}
    return {
        e.name: e.stat().st_size
        for e in scan
        if e.is_file(follow_symlinks=False)
        and not e.name.startswith(".")
        and e.name != CHECKSUMS
        and not e.name.endswith(PARTIAL)
    }


def _entry(directory: Path, record: Record | None, file: str, size: int | None) -> CacheEntry:
    return CacheEntry(
        directory / file,
        record.sha256 if record else None,
        record.name if record else None,
        record.version if record else None,
        record.platform if record else None,
        size,
    )
