"""Seed 004's loop interface (``scripts.p2p.loops``) as a thin layer over treadle's core.

Code written to the P2P orchestrator's loops changes its import line and runs on treadle::

    from treadle.compat.p2p import BackoffConfig, BaseLoop, LoopManager, LoopStats

Each :class:`BaseLoop` drives one private treadle :class:`~treadle.loop.Loop` (scheduling,
backoff, pause/resume, ``enabled``, heartbeats, metrics); a :class:`LoopManager` runs them
as the children of one :class:`~treadle.supervisor.Supervisor` (start order by
``depends_on``, cycle errors, dependants stopped first, each stop bounded). The layer
translates names and shapes; it does not sleep, count or order anything on its own.

Where the seed and treadle differ, the seed's behaviour wins and a comment at the spot says
which treadle feature provides it. Known differences that remain:

- durations (``average_duration_ms``, ``avg_run_duration``) are treadle's window of recent
  runs (128), failed runs included, not an all-time total; ``last_run_time`` is the end of
  the last run, not its start; there is no ``last_success_time`` nor ``total_run_duration``;
- cancelling ``run_forever`` propagates ``CancelledError`` (the seed swallowed it);
- ``backoff_config`` is fixed at construction (treadle's Loop has no backoff setter).

The modules: ``_p2p_backoff`` (BackoffConfig), ``_p2p_stats`` (LoopStats), ``_p2p_loop``
(BaseLoop), ``_p2p_manager`` (LoopManager).
"""

from ._p2p_backoff import BackoffConfig as BackoffConfig
from ._p2p_loop import BaseLoop as BaseLoop
from ._p2p_manager import LoopManager as LoopManager
from ._p2p_stats import LoopStats as LoopStats

__all__ = ["BackoffConfig", "BaseLoop", "LoopManager", "LoopStats"]
