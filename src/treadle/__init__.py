"""treadle: keep long-running work alive.

The public API is re-exported here; the subpackages (``treadle.loop``,
``treadle.supervisor``, ``treadle.broker``, ...) hold it, and everything underscored is
private. Names load on first use (PEP 562), so that ``import treadle`` and the CLI start
fast; the imports under ``TYPE_CHECKING`` say what each name is.
"""

import importlib as _importlib

# Not ``typing.TYPE_CHECKING``: importing typing (and with it re) costs the CLI's fast path
# ~15 ms; mypy reads the block below all the same.
_TYPE_CHECKING = False

# ``treadle.loop`` is both a subpackage and the decorator: the subpackage's module is
# callable (it forwards to the decorator), so it loads lazily like every other name.
if _TYPE_CHECKING:
    from ._backoff import Backoff as Backoff
    from ._backoff import Jitter as Jitter
    from ._exceptions import ArtifactError as ArtifactError
    from ._exceptions import ArtifactNotFound as ArtifactNotFound
    from ._exceptions import BrokerError as BrokerError
    from ._exceptions import BusTimeout as BusTimeout
    from ._exceptions import ChecksumMismatch as ChecksumMismatch
    from ._exceptions import ChildNotFound as ChildNotFound
    from ._exceptions import ClientTimeout as ClientTimeout
    from ._exceptions import ConfigError as ConfigError
    from ._exceptions import DependencyError as DependencyError
    from ._exceptions import DownloadError as DownloadError
    from ._exceptions import DuplicateChild as DuplicateChild
    from ._exceptions import IntegrityError as IntegrityError
    from ._exceptions import InvalidMessage as InvalidMessage
    from ._exceptions import InvalidTransition as InvalidTransition
    from ._exceptions import LoopFailed as LoopFailed
    from ._exceptions import ManagerGone as ManagerGone
    from ._exceptions import NotPausable as NotPausable
    from ._exceptions import OverReleased as OverReleased
    from ._exceptions import ProcessExited as ProcessExited
    from ._exceptions import ProcessLimitExceeded as ProcessLimitExceeded
    from ._exceptions import RunTimedOut as RunTimedOut
    from ._exceptions import SpawnError as SpawnError
    from ._exceptions import SupervisorFailed as SupervisorFailed
    from ._exceptions import TaskFailed as TaskFailed
    from ._exceptions import TaskNotFound as TaskNotFound
    from ._exceptions import TreadleError as TreadleError
    from ._exceptions import UnknownLimiter as UnknownLimiter
    from ._exceptions import VersionConflict as VersionConflict
    from ._intensity import Intensity as Intensity
    from ._lifecycle import State as State
    from ._lifecycle import Transition as Transition
    from ._runnable import Runnable as Runnable
    from .broker import Result as Result
    from .broker import TaskSpec as TaskSpec
    from .bus import Bus as Bus
    from .bus import Message as Message
    from .bus import Overflow as Overflow
    from .bus import Subscription as Subscription
    from .client import Client as Client
    from .health import Health as Health
    from .health import HealthStatus as HealthStatus
    from .health import beat as beat
    from .loop import FunctionLoop as FunctionLoop
    from .loop import Loop as Loop
    from .loop import loop as loop
    from .manager import Manager as Manager
    from .process import Process as Process
    from .process import ProcessSpec as ProcessSpec
    from .supervisor import ChildSpec as ChildSpec
    from .supervisor import Restart as Restart
    from .supervisor import Strategy as Strategy
    from .supervisor import Supervisor as Supervisor
    from .supervisor import run as run
    from .supervisor import serve as serve

__version__ = "0.1.0"

_WHERE = {
    "Backoff": "._backoff",
    "Jitter": "._backoff",
    "ArtifactError": "._exceptions",
    "ArtifactNotFound": "._exceptions",
    "ChecksumMismatch": "._exceptions",
    "DownloadError": "._exceptions",
    "BrokerError": "._exceptions",
    "BusTimeout": "._exceptions",
    "ChildNotFound": "._exceptions",
    "ClientTimeout": "._exceptions",
    "ConfigError": "._exceptions",
    "DependencyError": "._exceptions",
    "DuplicateChild": "._exceptions",
    "IntegrityError": "._exceptions",
    "InvalidMessage": "._exceptions",
    "InvalidTransition": "._exceptions",
    "LoopFailed": "._exceptions",
    "ManagerGone": "._exceptions",
    "NotPausable": "._exceptions",
    "OverReleased": "._exceptions",
    "ProcessExited": "._exceptions",
    "ProcessLimitExceeded": "._exceptions",
    "RunTimedOut": "._exceptions",
    "SpawnError": "._exceptions",
    "SupervisorFailed": "._exceptions",
    "TaskFailed": "._exceptions",
    "TaskNotFound": "._exceptions",
    "TreadleError": "._exceptions",
    "UnknownLimiter": "._exceptions",
    "VersionConflict": "._exceptions",
    "Intensity": "._intensity",
    "State": "._lifecycle",
    "Transition": "._lifecycle",
    "Runnable": "._runnable",
    "Result": ".broker",
    "TaskSpec": ".broker",
    "Bus": ".bus",
    "Message": ".bus",
    "Overflow": ".bus",
    "Subscription": ".bus",
    "Client": ".client",
    "Health": ".health",
    "HealthStatus": ".health",
    "beat": ".health",
    "FunctionLoop": ".loop",
    "Loop": ".loop",
    "Manager": ".manager",
    "Process": ".process",
    "ProcessSpec": ".process",
    "ChildSpec": ".supervisor",
    "Restart": ".supervisor",
    "Strategy": ".supervisor",
    "Supervisor": ".supervisor",
    "run": ".supervisor",
    "serve": ".supervisor",
}

__all__ = [
    "ArtifactError",
    "ArtifactNotFound",
    "Backoff",
    "BrokerError",
    "Bus",
    "BusTimeout",
    "ChecksumMismatch",
    "ChildNotFound",
    "ChildSpec",
    "Client",
    "ClientTimeout",
    "ConfigError",
    "DependencyError",
    "DownloadError",
    "DuplicateChild",
    "FunctionLoop",
    "Health",
    "HealthStatus",
    "IntegrityError",
    "Intensity",
    "InvalidMessage",
    "InvalidTransition",
    "Jitter",
    "Loop",
    "LoopFailed",
    "Manager",
    "ManagerGone",
    "Message",
    "NotPausable",
    "OverReleased",
    "Overflow",
    "Process",
    "ProcessExited",
    "ProcessLimitExceeded",
    "ProcessSpec",
    "Restart",
    "Result",
    "RunTimedOut",
    "Runnable",
    "SpawnError",
    "State",
    "Strategy",
    "Subscription",
    "Supervisor",
    "SupervisorFailed",
    "TaskFailed",
    "TaskNotFound",
    "TaskSpec",
    "Transition",
    "TreadleError",
    "UnknownLimiter",
    "VersionConflict",
    "beat",
    "loop",
    "run",
    "serve",
]


def __getattr__(name: str) -> object:
    if name == "loop":  # the subpackage, callable as the decorator
        return _importlib.import_module(".loop", __name__)
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'treadle' has no attribute {name!r}")
    value = getattr(_importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
