"""Opening a broker's database: :func:`session`, with what is checked first.

Owns the simplebroker target and settings of a :class:`~treadle.broker.BrokerURL` (on
SQLite, ``$TREADLE_SQLITE_SYNC``), and the checks made before simplebroker is asked to
open a SQLite file, which it answers only after seconds of retries: a read-only
filesystem, a file that is not a SQLite database. On PostgreSQL, one workaround of
simplebroker-pg's cost per statement (see :func:`_remember_statements`). It does not use
the broker (:mod:`._broker` does).
"""

from __future__ import annotations

import functools
import os

from simplebroker import BrokerSession, BrokerTarget, Config, resolve_config

from .._exceptions import BrokerError
from ._target import BrokerURL

__all__ = ["SYNC_ENV", "session"]


def session(url: BrokerURL) -> BrokerSession:
    """simplebroker's session of ``url``; BrokerError naming the broker if it cannot be
    opened."""
    if url.kind == "sqlite" and (why := _unopenable(url.location)):
        raise BrokerError(f"broker {url}: cannot open: {why}")
    if url.kind == "postgresql":
        _remember_statements()
    try:
        opened = BrokerSession.connect(_target(url), config=_config(url))
    except Exception as exc:  # simplebroker raises several kinds; name the broker
        raise BrokerError(f"broker {url}: cannot open: {exc}") from exc
    if url.kind == "sqlite":
        _SEEN.add(url.location)
    return opened


SYNC_ENV = "TREADLE_SQLITE_SYNC"  # full (the default) or normal: see _config
VACUUM_EVERY = 1000  # writes between simplebroker's looks at whether to vacuum


def _config(url: BrokerURL) -> Config:
    """simplebroker's settings for ``url``. On SQLite, ``$TREADLE_SQLITE_SYNC``: ``full``
    (the default) syncs every commit to the disk, so nothing committed is lost even to a
    power cut; ``normal`` syncs at checkpoints only, so a commit survives any crash of
    the processes but the last ones may roll back after a power cut or a crash of the
    system (the file stays whole either way). A commit costs ~0.7 ms with ``full`` and
    ~0.04 ms with ``normal`` on this project's test machines.

    simplebroker looks whether to vacuum claimed messages every ``VACUUM_EVERY`` writes
    (its default: 100) by counting every row of the table; treadle's queues hold few
    claimed messages and many others (the task log, the outboxes), and a busy manager
    writes thousands a second: that count was ~5% of its broker thread."""
    override: dict[str, object] = {"BROKER_AUTO_VACUUM_INTERVAL": VACUUM_EVERY}
    mode = os.environ.get(SYNC_ENV, "").strip().lower()
    if mode and url.kind == "sqlite":
        if mode not in ("full", "normal"):
            raise BrokerError(f"${SYNC_ENV}: must be full or normal, got {mode!r}")
        override["BROKER_SYNC_MODE"] = mode.upper()
    return resolve_config(override=override)


def _target(url: BrokerURL) -> str | BrokerTarget:
    if url.kind == "sqlite":
        return url.location
    return BrokerTarget(  # the simplebroker-pg backend, tables in the URL's schema
        backend_name="postgres", target=url.dsn, backend_options={"schema": url.schema}
    )


_SEEN: set[str] = set()  # SQLite files this process has opened as brokers
_HEADER = b"SQLite format 3\x00"


def _unopenable(path: str) -> str | None:
    """Why the SQLite file at ``path`` cannot be a broker, found at once: a read-only
    filesystem (SQLite cannot open a WAL database there), or a file that is not a SQLite
    database (SQLite takes seconds of retries to say either); None when nothing is seen
    wrong. The file is read only before this process first opens it as a broker: closing
    a descriptor of it would drop the POSIX locks this process's connections hold."""
    try:
        if os.statvfs(os.path.dirname(path)).f_flag & os.ST_RDONLY:
            return "its filesystem is read-only"
    except OSError:
        pass
    if path not in _SEEN:
        try:
            with open(path, "rb") as f:
                head = f.read(len(_HEADER))
        except OSError:
            return None  # not there yet (it is made), or SQLite says why
        if head and head != _HEADER[: len(head)]:
            return "it is not a SQLite database"
    return None


def _remember_statements() -> None:
    """simplebroker-pg rewrites every statement's placeholders (``?`` to ``%s``) on every
    call, with a Python loop over its text: 40-60 us a statement, about a third of a
    PostgreSQL manager's CPU per task (measured). The rewrite is a pure function of the
    text, and the texts are few (values are parameters): its results are remembered.
    Upstream should do it; until then its function is wrapped once, and left alone if it
    is gone or already cached."""
    try:
        from simplebroker_pg import runner
    except ImportError:  # not installed: nothing to speed up (opening will say why)
        return
    adapt = getattr(runner, "_adapt_sql", None)
    if callable(adapt) and not hasattr(adapt, "cache_info"):
        runner._adapt_sql = functools.lru_cache(maxsize=1024)(adapt)
