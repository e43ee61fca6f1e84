"""Where a scenario's broker lives, made and unmade: a SQLite file in a temp dir, a schema
of its own on the real PostgreSQL server, a small tmpfs, a read-only bind mount.

Owns setup and teardown of each (every teardown runs, whatever failed); it starts no
process but ``mount`` and ``umount``.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PG", "broker_url", "fill", "pg_answers", "readonly", "tmpfs"]

PG = "postgresql://postgres@127.0.0.1:5432/test"


def pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def broker_url(kind: str, directory: Path) -> Iterator[str]:
    """A fresh broker: ``directory``/broker.db, or a PostgreSQL schema dropped after."""
    if kind == "sqlite":
        yield str(directory / "broker.db")
        return
    import psycopg

    schema = f"chaos_{secrets.token_hex(5)}"
    try:
        yield f"{PG}?schema={schema}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _run(*argv: str) -> bool:
    return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of ``size`` mounted on ``path`` (True), or nothing (False: not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path))
    try:
        yield mounted
    finally:
        if mounted and not _run("umount", str(path)):
            _run("umount", "-l", str(path))  # something still holds it: detach it anyway


@contextlib.contextmanager
def readonly(path: Path) -> Iterator[bool]:
    """``path`` made read-only for everyone, root included, by a read-only bind mount on
    itself (True), or nothing (False)."""
    mounted = _run("mount", "--bind", str(path), str(path))
    try:
        if mounted and not _run("mount", "-o", "remount,bind,ro", str(path)):
            yield False
        else:
            yield mounted
    finally:
        if mounted and not _run("umount", str(path)):
            _run("umount", "-l", str(path))


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` to the last byte; the file that does it."""
    filler = directory / "filler"
    chunk = b"\0" * (1 << 20)
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:
            f.write(chunk)
            f.flush()
    with contextlib.suppress(OSError), filler.open("ab") as f:  # the last, partial MiB
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    return filler
