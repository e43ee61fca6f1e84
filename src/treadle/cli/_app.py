"""What every treadle command shares: options, the session, and exit codes.

Owns ``--broker`` (also ``$TREADLE_BROKER``) and ``--json``, the client a command works
through (opened on first use, closed when the command ends), and which error is which
exit code. The root group is in ``_root``; the commands live in modules of their own.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._exceptions import BrokerError, ClientTimeout, ConfigError, TaskNotFound, TreadleError

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "EPILOG",
    "Exit",
    "Session",
    "broker_option",
    "exit_code",
    "expected_failure",
    "json_option",
    "session",
]

F = TypeVar("F", bound=Callable[..., Any])


class Exit(enum.IntEnum):
    """The exit codes of every treadle command (``run --wait`` exits with the task's)."""

    OK = 0
    FAILED = 1  # the task failed, or the manager refused the request
    USAGE = 2  # a bad option or a spec that does not validate
    NOT_FOUND = 3  # no task or manager with that TID
    TIMEOUT = 4  # no answer within --timeout
    BROKER = 5  # the broker cannot be opened or written (read-only, a full disk, gone)
    SYSTEM = 6  # the system refused: a file, directory or socket (permissions, no space)
    INTERRUPTED = 130  # Ctrl-C


EPILOG = """\b
Exit codes:
  0 success; 1 the task failed or the request was refused; 2 usage or config error;
  3 no such task or manager; 4 timed out; 5 broker error (cannot open or write it:
  read-only, disk full); 6 system error (a file or socket: permissions, no space);
  130 interrupted. Each failure is one line on stderr, never a traceback.
  `treadle run --wait` exits with the task's own status (128+N if killed by signal N).
\b
The broker is a SQLite file (default .treadle/broker.db in the current directory) or a
postgresql:// URL: --broker, or the TREADLE_BROKER environment variable."""


class Session:
    """What a command works with: the broker it was pointed at and how to print."""

    def __init__(self, broker: str | None, as_json: bool) -> None:
        self.broker = broker
        self.as_json = as_json
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        """Opened on first use: ``treadle --help`` need not load the broker layer."""
        if self._client is None:
            from ..client import Client

            self._client = Client(self.broker)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def broker_option(fn: F) -> F:
    return click.option(
        "--broker",
        envvar="TREADLE_BROKER",
        metavar="PATH|URL",
        help="The broker: a SQLite file or postgresql:// URL.",
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)


def session(broker: str | None, as_json: bool = False) -> Session:
    """The command's session, closed when the command ends."""
    ctx = click.get_current_context()
    s = Session(broker, as_json)
    ctx.call_on_close(s.close)
    return s


def expected_failure(exc: BaseException) -> tuple[str, Exit] | None:
    """The one line and exit code of a failure a command may meet (a TreadleError, the
    broker's database refusing a write, an OSError); None for a bug (a traceback is
    due). Looks at simplebroker's and sqlite3's errors only if they were loaded."""
    if isinstance(exc, TreadleError):
        return str(exc), exit_code(exc)
    cause: BaseException | None = exc  # simplebroker wraps some of its errors
    while cause is not None:
        for module, name in (("simplebroker._exceptions", "BrokerError"), ("sqlite3", "Error")):
            kind = getattr(sys.modules.get(module), name, None)
            if isinstance(kind, type) and isinstance(cause, kind):
                return f"the broker failed: {exc}", Exit.BROKER
        cause = cause.__cause__
    if isinstance(exc, OSError):
        return str(exc), Exit.SYSTEM
    return None


def exit_code(exc: TreadleError) -> Exit:
    if isinstance(exc, ConfigError):
        return Exit.USAGE
    if isinstance(exc, TaskNotFound):
        return Exit.NOT_FOUND
    if isinstance(exc, ClientTimeout):
        return Exit.TIMEOUT
    if isinstance(exc, BrokerError):
        return Exit.BROKER
    return Exit.FAILED
