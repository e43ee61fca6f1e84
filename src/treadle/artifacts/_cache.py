"""The cache's mechanism: where it is, its ``checksums.txt``, its locks, the fast check.

Owns the directory (``$XDG_CACHE_HOME/treadle/bin``, default ``~/.cache/treadle/bin``,
shared by every project of a user), the record of each file and the locks that keep
several processes from downloading one artifact twice or writing the record at once.

``checksums.txt`` is in ``sha256sum``'s format, so ``sha256sum -c checksums.txt`` in the
directory checks it. Beside each digest line, a ``#=`` line (a comment to sha256sum)
holds what the fast path compares and what listing shows: the file's size and mtime
(nanoseconds) when it was verified, and the artifact's name, version and platform::

    3a7bd3e2...42dd4f1b  loom-bridge-v0.1.0-linux-x86_64
    #= loom-bridge-v0.1.0-linux-x86_64 7340032 1718000000123456789 loom-bridge v0.1.0 linux-x86_64

The fast path (:func:`trusted`) trusts a file whose size and mtime are the recorded ones
and whose recorded digest is the declared one: one ``stat`` and one small read, no
hashing. The digest itself is checked when the file is written (the download) and by
``treadle cache verify``. The file is replaced atomically, so a reader never sees half
of it. Listing, verifying and clearing are :mod:`._inventory`'s.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "CHECKSUMS",
    "Record",
    "cache_dir",
    "cache_location",
    "locked",
    "read_records",
    "remove_partials",
    "sha256_file",
    "trusted",
    "update_records",
]

CHECKSUMS: Final = "checksums.txt"
LOCKS: Final = ".locks"  # one empty file per artifact, and one for checksums.txt
PARTIAL: Final = ".part"  # a download in progress: ".NAME-VERSION-PLATFORM.XXXX.part"
_parsed: dict[str, tuple[tuple[int, int, int], dict[str, Record]]] = {}  # see read_records
_HEADER: Final = (
    "# treadle's artifact cache: `sha256sum -c checksums.txt` checks it.\n"
    "# '#=' lines: file, size, mtime_ns, name, version, platform (what a resolve trusts).\n"
)


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory of cached artifacts: ``$XDG_CACHE_HOME/treadle/bin`` (an absolute
    XDG_CACHE_HOME only, as the XDG spec says), else ``~/.cache/treadle/bin``."""
    return Path(cache_location(environ))


def cache_location(environ: Mapping[str, str] | None = None) -> str:
    """:func:`cache_dir` as a string (the fast path of a resolve avoids pathlib)."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg.startswith("/"):
        return f"{xdg.rstrip('/')}/treadle/bin"
    home = env.get("HOME") or str(Path.home())
    return f"{home.rstrip('/')}/.cache/treadle/bin"


@dataclass(frozen=True, slots=True)
class Record:
    """One cached file as ``checksums.txt`` has it (what a ``#=`` line gives may be missing
    from a hand-written file: then the file is never trusted without hashing it)."""

    file: str
    sha256: str
    size: int | None = None
    mtime_ns: int | None = None
    name: str | None = None
    version: str | None = None
    platform: str | None = None

    def lines(self) -> str:
        out = f"{self.sha256}  {self.file}\n"
        if self.size is not None and self.mtime_ns is not None:
            meta = (self.name or "-", self.version or "-", self.platform or "-")
            out += f"#= {self.file} {self.size} {self.mtime_ns} {' '.join(meta)}\n"
        return out


def read_records(directory: Path | str) -> Mapping[str, Record]:
    """File name → its record; a missing file is an empty cache, a bad line is skipped.

    The parsed file is kept while its inode, size and mtime stay the same (it is only
    ever replaced by a rename): a resolve then costs a ``stat`` instead of a read. Should
    a coarse clock and a reused inode hide a change, the answer errs one way only: an
    entry that no longer matches its file, so the file is hashed again."""
    path = f"{directory}/{CHECKSUMS}"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    known = _parsed.get(path)
    if known is not None and known[0] == key:
        return known[1]
    records = _read(path)
    _parsed[path] = (key, records)
    return records


def _read(path: str) -> dict[str, Record]:
    try:
        with open(path, encoding="utf-8") as f:
            return _parse(f.read())
    except FileNotFoundError:
        return {}


def _parse(text: str) -> dict[str, Record]:
    digests: dict[str, str] = {}
    meta: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("#= "):
            parts = line[3:].split(" ")
            if len(parts) == 6 and parts[1].isdigit() and parts[2].isdigit():
                meta[parts[0]] = parts[1:]
        elif not line.startswith("#") and len(line) > 66 and line[64:66] in ("  ", " *"):
            digests[line[66:]] = line[:64].lower()
    out: dict[str, Record] = {}
    for file, digest in digests.items():
        m = meta.get(file)
        if m is None:
            out[file] = Record(file, digest)
        else:
            name, version, platform = (None if v == "-" else v for v in m[2:])
            out[file] = Record(file, digest, int(m[0]), int(m[1]), name, version, platform)
    return out


def update_records(directory: Path, add: Iterable[Record] = (), remove: Iterable[str] = ()) -> None:
    """Add (or replace) and remove records, under the cache's lock; the new file is written
    beside the old one and renamed over it, so that readers never see half of it."""
    with locked(directory, CHECKSUMS):
        records = _read(f"{directory}/{CHECKSUMS}")  # never the kept parse: it may be stale
        for name in remove:
            records.pop(name, None)
        for record in add:
            records[record.file] = record
        text = _HEADER + "".join(records[k].lines() for k in sorted(records))
        _write_atomically(directory / CHECKSUMS, text.encode())


def trusted(path: Path | str, record: Record | None, expected: str | None) -> bool:
    """Whether ``path`` may be taken as verified without hashing it: its record says the
    declared digest (``expected``; None: whatever was recorded), and the file is still the
    size, mtime and executable regular file it was when verified."""
    if record is None or record.size is None:
        return False
    if expected is not None and record.sha256 != expected:
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (
        st.st_size == record.size
        and st.st_mtime_ns == record.mtime_ns
        and stat.S_ISREG(st.st_mode)
        and bool(st.st_mode & 0o111)
    )


@contextlib.contextmanager
def locked(directory: Path, key: str) -> Iterator[None]:
    """Hold the exclusive lock named ``key`` in ``directory`` (an ``fcntl.flock`` on a file
    under ``.locks``: held across processes, released if the holder dies). It blocks for
    as long as the holder takes: a download is bounded by its own socket timeout."""
    locks = directory / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks / f"{key}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and with it the lock


def remove_partials(directory: Path, file: str) -> None:
    """Remove what a dead download of ``file`` left (call it holding ``file``'s lock)."""
    for leftover in directory.glob(f".{file}.*{PARTIAL}"):
        leftover.unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
