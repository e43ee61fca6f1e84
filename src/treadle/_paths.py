"""Where treadle's files live, decided with the standard library alone.

Owns the broker selection rule (an explicit spec, then ``$TREADLE_BROKER``, then
``.treadle/broker.db`` under the project root) and the local address a manager serves
submissions on. It imports nothing heavy, because the CLI's fast path for ``treadle run``
uses it before anything else is loaded; :func:`treadle.broker.resolve` builds on it.
"""

from __future__ import annotations

import os
from _blake2 import blake2b  # hashlib.blake2b itself; hashlib would cost the fast path

__all__ = ["BROKER_ENV", "STATE_DIR", "broker_spec", "sqlite_path", "submit_address"]

BROKER_ENV = "TREADLE_BROKER"
STATE_DIR = ".treadle"


def broker_spec(spec: str | os.PathLike[str] | None = None, root: str | None = None) -> str:
    """The broker as given: ``spec``, else ``$TREADLE_BROKER``, else the default file."""
    raw = os.fspath(spec) if spec is not None else os.environ.get(BROKER_ENV, "")
    return raw or os.path.join(root or os.getcwd(), STATE_DIR, "broker.db")


def sqlite_path(raw: str) -> str | None:
    """The absolute file of a SQLite broker spec (a path or ``sqlite://``), else None."""
    raw = raw.removeprefix("sqlite://")
    if "://" in raw:
        return None
    return os.path.abspath(os.path.expanduser(raw))


def submit_address(location: str) -> str:
    """The abstract Unix socket on which one manager of a SQLite broker takes submissions.

    Derived from the broker's absolute location, so that every client of that broker on
    this host finds it without reading the broker; ``@`` marks Linux's abstract namespace
    (no file to clean up: the name is gone with the process that bound it).
    """
    digest = blake2b(location.encode(), digest_size=10).hexdigest()
    return f"@treadle-submit-{digest}"
