"""Leases in the broker's own database: a manager's life, and the fleet's leader.

Owns the table ``treadle_leases`` (beside simplebroker's, through its sidecar API) and
the one atomic statement that takes or renews a lease: the row is the holder's while
``expires_at`` (the *database's* clock, so hosts' clocks may disagree) lies ahead;
another holder takes it only once it has passed, and each change of holder increments
the row's fencing ``token``. No consensus of our own: the database's transaction is it.

A holder acts on a lease only until ``deadline``: the local monotonic time it sent the
request, plus the lease. The database's expiry is later than that (it counted from when
the request arrived), so a holder cut off from the database stops acting before anyone
else can take over: never two holders at once.

A holder renews with the token it holds (:func:`renew`), and whoever takes a lease over
moves the token on (:func:`acquire` of an expired lease, :func:`seize` of a dead
manager's): so a holder that was frozen or cut off past its lease, and whose lease was
taken meanwhile, is refused by the database when it comes back, whatever its own clock
says. One that nobody took over may renew it: nobody acted on what it holds.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

from ..broker import Broker

__all__ = [
    "LEADER",
    "Lease",
    "acquire",
    "current",
    "keep",
    "manager",
    "release",
    "remaining",
    "renew",
    "seize",
]

LEADER = "leader"  # the one fleet-wide leadership lease

_TABLE = """CREATE TABLE IF NOT EXISTS treadle_leases (
    name TEXT PRIMARY KEY,
    holder BIGINT NOT NULL,
    token BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
)"""
_NOW = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
}
_TAKE = """INSERT INTO treadle_leases (name, holder, token, expires_at)
VALUES (?, ?, 1, {now} + ?)
ON CONFLICT (name) DO UPDATE SET
    token = CASE WHEN treadle_leases.holder = excluded.holder
        THEN treadle_leases.token ELSE treadle_leases.token + 1 END,
    holder = excluded.holder,
    expires_at = excluded.expires_at
WHERE treadle_leases.holder = excluded.holder OR treadle_leases.expires_at < {now}
RETURNING token, expires_at"""
_RENEW = """UPDATE treadle_leases SET expires_at = {now} + ?
WHERE name = ? AND holder = ? AND token = ?
RETURNING token"""
_RENEW_BOTH = """UPDATE treadle_leases SET expires_at = {now} + ?
WHERE (name = ? AND holder = ? AND token = ?) OR (name = ? AND holder = ? AND token = ?)
RETURNING name"""
_CURRENT = "SELECT holder, token, expires_at - {now} FROM treadle_leases WHERE name = ?"
_SEIZE = """INSERT INTO treadle_leases (name, holder, token, expires_at)
VALUES (?, ?, 1, {now} + ?)
ON CONFLICT (name) DO UPDATE SET
    token = treadle_leases.token + 1,
    holder = excluded.holder,
    expires_at = excluded.expires_at
WHERE {condition}
RETURNING token"""


@dataclass(frozen=True)
class Lease:
    """A lease as its holder holds it: act on it only before ``deadline`` (monotonic)."""

    name: str
    holder: int
    token: int
    deadline: float


_READY: weakref.WeakSet[Broker] = weakref.WeakSet()  # brokers whose table is there


def _ready(broker: Broker) -> str:
    """The table made sure of (once per Broker); the database's clock, in SQL."""
    if broker not in _READY:
        broker.ddl(_TABLE)
        _READY.add(broker)
    return _NOW[broker.url.kind]


def acquire(broker: Broker, name: str, holder: int, seconds: float) -> Lease | None:
    """Take or renew lease ``name`` for ``seconds``; None while another holds it."""
    now = _ready(broker)
    sent = time.monotonic()
    rows = broker.sql(_TAKE.format(now=now), (name, holder, seconds))
    if not rows:
        return None
    return Lease(name, holder, int(rows[0][0]), sent + seconds)


def renew(broker: Broker, lease: Lease, seconds: float) -> Lease | None:
    """Renew ``lease`` for ``seconds`` with the token it holds; None once somebody else
    took it over (the token moved on, or the row was given up): the holder must stop."""
    now = _ready(broker)
    sent = time.monotonic()
    rows = broker.sql(_RENEW.format(now=now), (seconds, lease.name, lease.holder, lease.token))
    if not rows:
        return None
    return Lease(lease.name, lease.holder, lease.token, sent + seconds)


def keep(
    broker: Broker, own: Lease, seconds: float, lead: bool, leader: Lease | None = None
) -> tuple[Lease | None, Lease | None, tuple[int, int, float] | None]:
    """A holder's periodic renewal: renew ``own`` (as :func:`renew`); then, if it was and
    ``lead``, take or keep the leader lease (as :func:`acquire`, or as :func:`renew` of
    ``leader``, the one it holds), and read who leads (as :func:`current`). Returns the
    three; a lost ``own`` ends it there (None, None, None).

    One statement, one commit, when it holds both (the steady state of a leader); else
    one transaction: a renewal is the one write an idle manager makes."""
    now = _ready(broker)
    sent = time.monotonic()
    if leader is not None and lead:
        both = (seconds, own.name, own.holder, own.token, LEADER, leader.holder, leader.token)
        names = {str(r[0]) for r in broker.sql(_RENEW_BOTH.format(now=now), both)}
        if own.name not in names:
            return None, None, None
        renewed = Lease(own.name, own.holder, own.token, sent + seconds)
        if LEADER in names:
            kept = Lease(LEADER, leader.holder, leader.token, sent + seconds)
            return renewed, kept, (leader.holder, leader.token, seconds)
        return renewed, acquire(broker, LEADER, own.holder, seconds), current(broker, LEADER)
    taken: Lease | None = None
    with broker.db.sidecar(transaction=True) as side:
        params = (seconds, own.name, own.holder, own.token)
        if not list(side.run(_RENEW.format(now=now), params, fetch=True)):
            return None, None, None
        if lead:
            rows = list(side.run(_TAKE.format(now=now), (LEADER, own.holder, seconds), fetch=True))
            if rows:
                taken = Lease(LEADER, own.holder, int(rows[0][0]), sent + seconds)
        rows = list(side.run(_CURRENT.format(now=now), (LEADER,), fetch=True))
    renewed = Lease(own.name, own.holder, own.token, sent + seconds)
    seen = (
        None
        if not rows or float(rows[0][2]) <= 0
        else (int(rows[0][0]), int(rows[0][1]), float(rows[0][2]))
    )
    return renewed, taken, seen


def seize(broker: Broker, name: str, by: int, seconds: float, *, gone: int | None = None) -> bool:
    """Take lease ``name`` over for ``by`` (moving its token on, so that its holder can
    no longer renew it) once it has run out; or at once from holder ``gone``, whose
    process is known to have ended. Whether ``by`` got it: of two recoverers of the same
    dead manager, one does (the other finds the lease held, and not by the dead)."""
    now = _ready(broker)
    condition = f"treadle_leases.expires_at < {now}"
    params: tuple[object, ...] = (name, by, seconds)
    if gone is not None:
        condition += " OR treadle_leases.holder = ?"
        params += (gone,)
    rows = broker.sql(_SEIZE.format(now=now, condition=condition), params)
    return bool(rows)


def release(broker: Broker, name: str, holder: int) -> None:
    """Give a lease up now (a clean exit), so that another need not wait it out."""
    _ready(broker)
    statement = "DELETE FROM treadle_leases WHERE name = ? AND holder = ?"
    broker.sql(statement, (name, holder), fetch=False)


def current(broker: Broker, name: str) -> tuple[int, int, float] | None:
    """Who holds ``name``: (holder, token, seconds left by the database's clock)."""
    now = _ready(broker)
    rows = broker.sql(_CURRENT.format(now=now), (name,))
    if not rows or float(rows[0][2]) <= 0:
        return None
    return int(rows[0][0]), int(rows[0][1]), float(rows[0][2])


def remaining(broker: Broker, names: list[str]) -> dict[str, float]:
    """Seconds left on each of ``names`` that has a lease, by the database's clock
    (negative: expired; a name that never had one is not in the answer)."""
    if not names:
        return {}
    now = _ready(broker)
    marks = ", ".join("?" for _ in names)
    rows = broker.sql(
        f"SELECT name, expires_at - {now} FROM treadle_leases WHERE name IN ({marks})",
        tuple(names),
    )
    return {str(r[0]): float(r[1]) for r in rows}


def manager(tid: int) -> str:
    """The name of manager ``tid``'s own lease: its claims are its while it holds it."""
    return f"manager:{tid}"
