"""Where the broker lives: a URL or a path, resolved once into a simplebroker target.

Owns the selection rule (argument, then ``TREADLE_BROKER``, then ``.treadle/broker.db``
under the project root) and the file's creation with mode 0600 in a 0700 directory. It does
not open connections: :class:`~treadle.broker.Broker` does.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .._exceptions import BrokerError
from .._paths import BROKER_ENV, broker_spec, sqlite_path
from .._redact import redact_url

__all__ = ["ENV", "BrokerURL", "resolve"]

ENV = BROKER_ENV
_PG_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_SCHEMA = "treadle"


@dataclass(frozen=True)
class BrokerURL:
    """A resolved broker: ``kind`` is ``sqlite`` (``location`` a file) or ``postgresql``."""

    kind: str
    location: str

    @property
    def schema(self) -> str:
        """PostgreSQL: the schema that holds the broker's tables (``?schema=`` in the URL,
        default ``treadle``); several brokers can share one database."""
        query = urllib.parse.urlsplit(self.location).query
        return urllib.parse.parse_qs(query).get("schema", [DEFAULT_SCHEMA])[0]

    @property
    def dsn(self) -> str:
        """PostgreSQL: the connection URL without treadle's own ``schema`` parameter."""
        parts = urllib.parse.urlsplit(self.location)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "schema"]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    @property
    def local(self) -> bool:
        """True when every client shares this host's filesystem with the managers."""
        return self.kind == "sqlite"

    @property
    def state_dir(self) -> Path:
        """Where a manager keeps its records and sockets: next to a SQLite file, else
        ``.treadle`` in the working directory."""
        if self.kind == "sqlite":
            return Path(self.location).parent
        return Path.cwd() / ".treadle"

    def __str__(self) -> str:
        return self.location if self.kind == "sqlite" else redact_url(self.location)


def resolve(spec: str | os.PathLike[str] | None = None, root: Path | None = None) -> BrokerURL:
    """The broker named by ``spec``, ``$TREADLE_BROKER``, or ``<root>/.treadle/broker.db``."""
    raw = broker_spec(spec, None if root is None else str(root))
    if raw.startswith(_PG_SCHEMES):
        return BrokerURL("postgresql", raw)
    location = sqlite_path(raw)
    if location is None:
        raise BrokerError(f"broker {raw!r}: not a path, sqlite:// or postgresql:// URL")
    _create(Path(location))
    return BrokerURL("sqlite", location)


def _create(path: Path) -> None:
    """Create the database file 0600 (and its directory 0700) before SQLite does.

    An existing file is never opened here: closing any descriptor of a SQLite file drops
    every POSIX lock this process holds on it, so a second Broker of a file that one is
    already using would break SQLite's locking under the first.
    """
    if path.exists():
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.close(fd)
    except FileExistsError:
        pass  # another process created it first
    except OSError as exc:
        raise BrokerError(f"broker {str(path)!r}: cannot create: {exc}") from exc
