"""The one exception tree of treadle.

Every error treadle raises on purpose derives from :class:`TreadleError`; where a stdlib
class says the same thing, it is mixed in so ``except LookupError`` keeps working::

    TreadleError
    ├── InvalidTransition          a lifecycle state change the table does not allow
    ├── ConfigError(ValueError)    a bad argument or spec: names the field
    │   └── DependencyError        unknown name or a cycle in ``depends_on``
    ├── DuplicateChild(KeyError)   a child name already used in this supervisor
    ├── ChildNotFound(LookupError) no child with that name
    ├── NotPausable(TypeError)     pause/resume asked of a child that cannot pause
    ├── LoopFailed                 a loop gave up after too many consecutive errors
    ├── RunTimedOut(TimeoutError)  one run of a loop outlasted its ``run_timeout``
    ├── SupervisorFailed           a supervisor gave up (restart intensity, escalate=True)
    ├── VersionConflict            compare-and-set on shared state saw another version
    ├── BusTimeout(TimeoutError)   a bus request got no reply, or a blocked publish timed out
    ├── UnknownLimiter(LookupError) no limiter has that name
    ├── OverReleased(RuntimeError) a limiter released more permits than it handed out
    ├── SpawnError(OSError)        a process could not be started (no executable, bad cwd...)
    ├── IntegrityError             an executable's sha256 is not the one expected
    ├── ProcessExited              a process ended abnormally (exit code or signal)
    ├── ProcessLimitExceeded       a process went over its memory limit and was killed
    ├── BrokerError                the broker cannot be opened or used
    │   └── InvalidMessage(ValueError) a queue message failed validation (it is dead-lettered)
    ├── ArtifactError              an executable could not be resolved (treadle.artifacts)
    │   ├── ArtifactNotFound(LookupError)    no local build, no cache entry, nothing to fetch
    │   ├── DownloadError(OSError)           the transfer failed (status, connection, cut short)
    │   └── ChecksumMismatch(IntegrityError) the bytes are not the ones declared
    ├── TaskNotFound(LookupError)  no task (or manager) has that TID
    ├── TaskFailed                 a task ended failed or stopped; ``result`` says how
    └── ClientTimeout(TimeoutError) a client waited longer than its timeout

Cancellation is never part of this tree: ``asyncio.CancelledError`` always propagates.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

__all__ = [
    "ArtifactError",
    "ArtifactNotFound",
    "BrokerError",
    "BusTimeout",
    "ChecksumMismatch",
    "ChildNotFound",
    "ClientTimeout",
    "ConfigError",
    "DependencyError",
    "DownloadError",
    "DuplicateChild",
    "IntegrityError",
    "InvalidMessage",
    "InvalidTransition",
    "LoopFailed",
    "NotPausable",
    "OverReleased",
    "ProcessExited",
    "ProcessLimitExceeded",
    "RunTimedOut",
    "SpawnError",
    "SupervisorFailed",
    "TaskFailed",
    "TaskNotFound",
    "TreadleError",
    "UnknownLimiter",
    "VersionConflict",
]


class TreadleError(Exception):
    """Root of every error treadle raises on purpose."""

    def report(self) -> str | None:
        """What to show for this error where a traceback would go (a traceback of it
        would show only treadle's own frames), or None: its traceback."""
        return None


class InvalidTransition(TreadleError):
    """A lifecycle change that the transitions table forbids."""

    def __init__(self, owner: str, current: object, target: object) -> None:
        super().__init__(f"{owner}: cannot go from {current} to {target}")
        self.owner = owner
        self.current = current
        self.target = target


class ConfigError(TreadleError, ValueError):
    """A bad argument, naming the field (and file and line where known)."""

    def __init__(
        self,
        field: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        suggestion: str | None = None,
    ) -> None:
        where = file or ""
        if file and line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        super().__init__(f"{where + ': ' if where else ''}{field}: {message}{hint}")
        self.field = field
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.suggestion = suggestion


class DependencyError(ConfigError):
    """``depends_on`` names an unknown child or forms a cycle."""


class DuplicateChild(TreadleError, KeyError):
    """Two children of one supervisor share a name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ChildNotFound(TreadleError, LookupError):
    """No child of this supervisor has that name."""


class NotPausable(TreadleError, TypeError):
    """The child's target cannot be paused (a plain coroutine, say)."""


class LoopFailed(TreadleError):
    """A loop reached ``max_consecutive_errors``; the last error is the ``__cause__``."""


class RunTimedOut(TreadleError, TimeoutError):
    """One ``run_once`` outlasted the loop's ``run_timeout`` and was cancelled."""


class SupervisorFailed(TreadleError):
    """A supervisor gave up: a child exceeded restart intensity with ``escalate=True``."""

    def __init__(self, supervisor: str, child: str, reason: str) -> None:
        super().__init__(f"supervisor {supervisor!r} failed: child {child!r} {reason}")
        self.supervisor = supervisor
        self.child = child
        self.reason = reason


class VersionConflict(TreadleError):
    """A compare-and-set on shared state expected one version and found another."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"state key {key!r}: expected version {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


class BusTimeout(TreadleError, TimeoutError):
    """A bus request got no reply in time, or a blocking publish found no room in time."""


class UnknownLimiter(TreadleError, LookupError):
    """No limiter is registered under that name."""


class OverReleased(TreadleError, RuntimeError):
    """A limiter was released more times than it was acquired."""


class SpawnError(TreadleError, OSError):
    """A process could not be started; the message names the program and the reason."""


class IntegrityError(TreadleError):
    """The executable's sha256 differs from the one the spec expects: it was not started."""


class ProcessExited(TreadleError):
    """A process ended abnormally: ``returncode`` as subprocess reports it (< 0: a signal);
    ``output``: the last lines it wrote to stderr (else to stdout), for its report (None:
    its output was not kept)."""

    def __init__(self, name: str, returncode: int, output: Sequence[str] | None = None) -> None:
        super().__init__(f"process {name!r} {describe_exit(returncode)}")
        self.name = name
        self.returncode = returncode
        self.output = None if output is None else tuple(output)

    def report(self) -> str:
        if self.output is None:
            return f"{self}\n"
        if not self.output:
            return f"{self}; it wrote nothing\n"
        return f"{self}; the last lines it wrote:\n" + "".join(f"{x}\n" for x in self.output)


class ProcessLimitExceeded(TreadleError):
    """A process used more than its ``memory_limit``; it was killed."""


class BrokerError(TreadleError):
    """The broker could not be opened or used; the message names the target."""


class InvalidMessage(BrokerError, ValueError):
    """A message on ``queue`` failed validation; it went to the dead-letter queue."""

    def __init__(self, queue: str, message_id: int | None, error: str) -> None:
        super().__init__(f"queue {queue!r}, message {message_id}: {error}")
        self.queue = queue
        self.message_id = message_id
        self.error = error


class ArtifactError(TreadleError):
    """An artifact could not be resolved; the message names it, its version and platform."""


class ArtifactNotFound(ArtifactError, LookupError):
    """Nowhere to take the artifact from: the message lists every place searched."""


class DownloadError(ArtifactError, OSError):
    """The download failed (an HTTP status, a connection error, a body cut short);
    nothing of it was kept."""


class ChecksumMismatch(ArtifactError, IntegrityError):
    """A download's sha256 is not the declared one; nothing of it was kept."""

    def __init__(self, what: str, url: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{what}: the download from {url} has sha256 {actual}, expected {expected}; "
            "it was not kept"
        )
        self.url = url
        self.expected = expected
        self.actual = actual


class TaskNotFound(TreadleError, LookupError):
    """No task or manager with that TID is known to the broker."""


class TaskFailed(TreadleError):
    """A task ended ``failed`` or ``stopped``; ``result`` is its final outbox record."""

    def __init__(self, tid: int, state: str, detail: str, result: object) -> None:
        super().__init__(f"task {tid} {state}: {detail}")
        self.tid = tid
        self.state = state
        self.result = result


class ManagerGone(TreadleError):
    """The manager a client asked exited before it replied (its log says why)."""


class ClientTimeout(TreadleError, TimeoutError):
    """A client call waited longer than its timeout (the work itself goes on)."""


def describe_exit(returncode: int) -> str:
    """``exit 3``, or ``killed by SIGSEGV``: how a process ended, said precisely."""
    if returncode >= 0:
        return f"exit {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"
