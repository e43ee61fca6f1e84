"""Seed 004's loop interface (``scripts.p2p.loops``) as a thin layer over treadle's core.

Code written to the P2P orchestrator's loops changes its import line and runs on treadle::

    from treadle.compat.p2p import BackoffConfig, BaseLoop, LoopManager, LoopStats

It follows the seed's real module (RingRift's ``scripts/p2p/loops/base.py``) where its
README says less. Each :class:`BaseLoop` drives one private treadle
:class:`~treadle.loop.Loop` (scheduling, backoff, run timeouts, pause/resume, ``enabled``,
heartbeats, counting); its :class:`LoopStats` is the seed's dataclass, filled in from the
Loop's metrics; ``health_check()`` returns the seed's :class:`HealthCheckResult`. A
:class:`LoopManager` runs the loops as the children of one
:class:`~treadle.supervisor.Supervisor` (start order by ``depends_on``, dependants stopped
first, each stop bounded). The layer translates names and shapes; it does not sleep, count
or order anything on its own. docs/seeds.md (section 004) lists what still differs from the
seed's module, and why.

The modules: ``_p2p_backoff`` (BackoffConfig), ``_p2p_stats`` (LoopStats),
``_p2p_health`` (HealthCheckResult, the seed's verdicts), ``_p2p_engine`` (the Loop behind
a BaseLoop), ``_p2p_loop`` (BaseLoop), ``_p2p_manager`` (LoopManager).
"""

from ._p2p_backoff import BackoffConfig as BackoffConfig
from ._p2p_health import CoordinatorStatus as CoordinatorStatus
from ._p2p_health import HealthCheckResult as HealthCheckResult
from ._p2p_loop import BaseLoop as BaseLoop
from ._p2p_manager import LoopManager as LoopManager
from ._p2p_stats import LoopStats as LoopStats

__all__ = [
    "BackoffConfig",
    "BaseLoop",
    "CoordinatorStatus",
    "HealthCheckResult",
    "LoopManager",
    "LoopStats",
]
