"""treadle: keep long-running work alive.

The public API is re-exported here; the subpackages (``treadle.loop``,
``treadle.supervisor``, ``treadle.bus``, ...) hold it, and everything underscored is private.
"""

from ._backoff import Backoff as Backoff
from ._backoff import Jitter as Jitter
from ._exceptions import BusTimeout as BusTimeout
from ._exceptions import ChildNotFound as ChildNotFound
from ._exceptions import ConfigError as ConfigError
from ._exceptions import DependencyError as DependencyError
from ._exceptions import DuplicateChild as DuplicateChild
from ._exceptions import IntegrityError as IntegrityError
from ._exceptions import InvalidTransition as InvalidTransition
from ._exceptions import LoopFailed as LoopFailed
from ._exceptions import NotPausable as NotPausable
from ._exceptions import OverReleased as OverReleased
from ._exceptions import ProcessExited as ProcessExited
from ._exceptions import ProcessLimitExceeded as ProcessLimitExceeded
from ._exceptions import SpawnError as SpawnError
from ._exceptions import SupervisorFailed as SupervisorFailed
from ._exceptions import TreadleError as TreadleError
from ._exceptions import UnknownLimiter as UnknownLimiter
from ._exceptions import VersionConflict as VersionConflict
from ._intensity import Intensity as Intensity
from ._lifecycle import State as State
from ._lifecycle import Transition as Transition
from ._runnable import Runnable as Runnable
from .bus import Bus as Bus
from .bus import Message as Message
from .bus import Overflow as Overflow
from .bus import Subscription as Subscription
from .health import Health as Health
from .health import HealthStatus as HealthStatus
from .health import beat as beat
from .loop import FunctionLoop as FunctionLoop
from .loop import Loop as Loop
from .loop import loop as loop
from .process import Process as Process
from .process import ProcessSpec as ProcessSpec
from .supervisor import ChildSpec as ChildSpec
from .supervisor import Restart as Restart
from .supervisor import Strategy as Strategy
from .supervisor import Supervisor as Supervisor
from .supervisor import run as run
from .supervisor import serve as serve

__version__ = "0.1.0"

__all__ = [
    "Backoff",
    "Bus",
    "BusTimeout",
    "ChildNotFound",
    "ChildSpec",
    "ConfigError",
    "DependencyError",
    "DuplicateChild",
    "FunctionLoop",
    "Health",
    "HealthStatus",
    "IntegrityError",
    "Intensity",
    "InvalidTransition",
    "Jitter",
    "Loop",
    "LoopFailed",
    "Message",
    "NotPausable",
    "OverReleased",
    "Overflow",
    "Process",
    "ProcessExited",
    "ProcessLimitExceeded",
    "ProcessSpec",
    "Restart",
    "Runnable",
    "SpawnError",
    "State",
    "Strategy",
    "Subscription",
    "Supervisor",
    "SupervisorFailed",
    "Transition",
    "TreadleError",
    "UnknownLimiter",
    "VersionConflict",
    "beat",
    "loop",
    "run",
    "serve",
]
