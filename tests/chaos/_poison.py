"""Scenario 3: malformed spawn requests written straight into ``treadle.spawn.requests``
with simplebroker, interleaved with valid ones.

Counts the valid ones run, the malformed ones dead-lettered with a reason (matched by
message ID), whether ``Client.tasks()`` still works, and whether a new manager starts after
the old one is killed.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable

from treadle.broker import Result
from treadle.broker import names as q

from ._counting import Planned
from ._fleet import task_fields, wait_results
from ._scene import Scene

__all__ = ["MALFORMED", "poison"]

OVERSIZE = 6_000_000  # characters; JSON escaping doubles a '"'


def _ok(tid: int) -> str:
    return f'"tid": {tid}, "argv": ["true"]'


MALFORMED: dict[str, Callable[[int], str | bytes]] = {
    "not-json": lambda tid: "this is not JSON {",
    "array": lambda tid: "[1, 2, 3]",
    "string": lambda tid: '"a string"',
    "wrong-types": lambda tid: json.dumps({"tid": "soon", "argv": "true"}),
    "no-target": lambda tid: json.dumps({"tid": tid}),
    "unknown-field": lambda tid: "{" + _ok(tid) + ', "evil": 1}',
    "nan": lambda tid: "{" + _ok(tid) + ', "retry_delay": NaN}',
    "infinity": lambda tid: "{" + _ok(tid) + ', "stop_timeout": Infinity}',
    "huge-retries": lambda tid: "{" + _ok(tid) + ', "retries": 1' + "0" * 400 + "}",
    "huge-tid": lambda tid: '{"tid": 1' + "0" * 30 + ', "argv": ["true"]}',
    "deep-nesting": lambda tid: "[" * 100_000,
    "oversized-quotes": lambda tid: '"' * OVERSIZE,
    "oversized-escapes": lambda tid: '{"argv": 5, "x": "' + '\\"' * (OVERSIZE // 2) + '"}',
    "non-utf8": lambda tid: b'{"tid": 1, "argv": ["\xff\xfe"]}',
}
"""Bad requests by label, each made for the message ID it will get."""


def _insert_bytes(path: str, ts: int, body: bytes) -> None:
    """A message whose body is not UTF-8, written into simplebroker's SQLite table."""
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db, db:
        db.execute(
            "INSERT INTO messages (queue, body, ts, claimed) VALUES (?, CAST(? AS TEXT), ?, 0)",
            (q.SPAWN, body, ts),
        )


def poison(s: Scene) -> None:
    first = s.fleet.start()
    planned: list[Planned] = []
    bad_ids: dict[int, str] = {}
    results: dict[int, Result | None] = {}
    letters: dict[int, str] = {}
    # the text ones first, then the one that is not UTF-8: each failure shows on its own
    text = {k: v for k, v in MALFORMED.items() if k != "non-utf8"}
    for phase in (text, {"non-utf8": MALFORMED["non-utf8"]}):
        wave, wave_bad = _write(s, phase, len(planned))
        planned += wave
        bad_ids.update(wave_bad)
        results.update(wait_results(s.client, [p.tid for p in wave], timeout=12.0))
        letters.update(_dead_letters(s, set(wave_bad), timeout=5.0))
    s.figures.malformed = len(bad_ids)
    s.figures.dead_lettered = sum(1 for why in letters.values() if why)
    missing = sorted(bad_ids[mid] for mid in bad_ids if not letters.get(mid))
    if missing:
        s.figures.notes.append("not dead-lettered: " + ", ".join(missing))
    try:
        s.client.tasks()
        s.figures.extra["listing_errors"] = 0
    except Exception as exc:
        s.figures.extra["listing_errors"] = 1
        s.figures.notes.append(f"Client.tasks(): {type(exc).__name__}: {str(exc)[:160]}")
    s.fleet.kill(first)
    s.figures.kills += 1
    try:
        s.fleet.start()
        s.figures.extra["restart_failed"] = 0
    except Exception as exc:
        s.figures.extra["restart_failed"] = 1
        s.figures.notes.append(f"new manager: {type(exc).__name__}: {str(exc)[:160]}")
    s.finish(planned, results)


def _write(
    s: Scene, bad: dict[str, Callable[[int], str | bytes]], first: int
) -> tuple[list[Planned], dict[int, str]]:
    """One valid task before each bad message, all written in one go."""
    broker = s.client.broker
    planned: list[Planned] = []
    bad_ids: dict[int, str] = {}
    rows: list[tuple[str, str, int]] = []
    for i, (label, make) in enumerate(bad.items(), start=first):
        kind = "argv" if i % 2 == 0 else "function"
        fields = task_fields(s.ledger_path, f"p{i}", 0.05, kind=kind, restart="never")
        spec = s.client.spec(**fields)
        rows.append((q.SPAWN, spec.model_dump_json(), spec.tid))
        planned.append(Planned(f"p{i}", spec.tid, "never"))
        ts = broker.timestamp()
        body = make(ts)
        if isinstance(body, bytes):
            if s.backend != "sqlite":
                s.figures.notes.append("non-UTF-8: not sent (PostgreSQL text cannot hold it)")
                continue
            _insert_bytes(s.url, ts, body)
        else:
            rows.append((q.SPAWN, body, ts))
        bad_ids[ts] = label
    broker.db.insert_messages(rows)
    return planned, bad_ids


def _dead_letters(s: Scene, wanted: set[int], timeout: float) -> dict[int, str]:
    """The reason given for each wanted message ID found in the dead-letter queue."""
    found: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        found.clear()
        with contextlib.suppress(Exception):
            after: int | None = None
            while batch := s.client.broker.peek_raw(q.DEADLETTER, after=after, limit=100):
                for raw, _ in batch:
                    with contextlib.suppress(ValueError):
                        letter = json.loads(raw)
                        mid = letter.get("message_id")
                        if mid in wanted:
                            found[mid] = str(letter.get("error") or letter.get("reason") or "")
                after = batch[-1][1]
        if wanted <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
