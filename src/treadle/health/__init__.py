"""Health: verdicts, roll-up, stacks of stuck tasks, and the blocked-loop watchdog."""

from .._heartbeat import beat as beat
from ._health import Health as Health
from ._health import HealthStatus as HealthStatus
from ._health import from_state as from_state
from ._health import rollup as rollup
from ._health import worst as worst
from ._stack import task_stack as task_stack
from ._watchdog import BlockReport as BlockReport
from ._watchdog import LoopWatchdog as LoopWatchdog

__all__ = [
    "BlockReport",
    "Health",
    "HealthStatus",
    "LoopWatchdog",
    "beat",
    "from_state",
    "rollup",
    "task_stack",
    "worst",
]
