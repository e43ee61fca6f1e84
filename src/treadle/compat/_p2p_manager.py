"""The seed's LoopManager: BaseLoops as the children of one treadle Supervisor.

Owns :class:`LoopManager`: a registry of loops by name, and the translation of the seed's
calls onto a :class:`~treadle.supervisor.Supervisor` built at ``start_all`` (start order
by ``depends_on``, dependants stopped first, bounded stops). A dependency cycle is the
seed's warning, not an error: the edges that close cycles are left out (``startup_graph``)
and every loop starts. Restarts are the seed's: the loop's own background task, as
``BaseLoop.start_background`` runs it (the children are temporary: the tree never restarts
them). Status and health are read from the loops; nothing here waits on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .._lifecycle import ENDED, State
from ..supervisor import ChildSpec, Restart, Supervisor
from ._p2p_loop import LIVE, BaseLoop

__all__ = ["LoopManager", "startup_graph"]

_log = logging.getLogger("treadle.compat.p2p")
_SETTLED: Final = ENDED | {State.RUNNING, State.PAUSED}  # what start_all waits for
_FAILING: Final = 0.5  # a loop failing more than half its runs is failing


def _find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of ``depends_on`` (``[a, c, b, a]``: a needs c...), or None."""
    done: set[str] = set()
    for root in deps:
        path: list[str] = []
        stack = [(root, 0)]
        while stack:  # iterative: a deep chain must not hit the recursion limit
            node, i = stack.pop()
            if i == 0:
                if node in path:
                    return [*path[path.index(node) :], node]
                if node in done:
                    continue
                path.append(node)
            needs = deps[node]
            if i < len(needs):
                stack += [(node, i + 1), (needs[i], 0)]
                continue
            done.add(node)
            path.pop()
    return None


def startup_graph(
    loops: Mapping[str, Sequence[str]],
) -> tuple[dict[str, list[str]], list[list[str]]]:
    """Each loop's dependencies among ``loops`` (names nobody registered are ignored, as the
    seed does), less the edges that close a cycle; and the cycles found, in order."""
    deps = {n: [d for d in dict.fromkeys(needs) if d in loops] for n, needs in loops.items()}
    cycles: list[list[str]] = []
    while (cycle := _find_cycle(deps)) is not None:
        cycles.append(cycle)
        deps[cycle[-2]].remove(cycle[-1])
    return deps, cycles


async def _settle(sup: Supervisor, names: Iterable[str]) -> None:
    """Until each named child runs or has ended; the tree's lifecycle events wake us, and
    each wake re-reads the states (no polling, and a dropped event cannot fool it)."""
    wanted = [n for n in names if n in sup.children]
    with sup.events() as events:
        while any(sup.child_state(n) not in _SETTLED for n in wanted):
            await events.get()


class LoopManager:
    """The seed's LoopManager.

    Args:
        name: the supervisor's name, and the prefix of the manager's log lines.
        shutdown_timeout: seconds each loop's graceful stop may take before it is
            cancelled; None: treadle's default (5 s).
    """

    def __init__(
        self, name: str = "loop_manager", *, shutdown_timeout: float | None = None
    ) -> None:
        self.name = name
        self.shutdown_timeout = shutdown_timeout
        self._loops: dict[str, BaseLoop] = {}
        self._sup: Supervisor | None = None

    @property
    def is_started(self) -> bool:
        return self._sup is not None

    @property
    def supervisor(self) -> Supervisor | None:
        """The treadle Supervisor running the loops, from start_all to stop_all."""
        return self._sup

    @property
    def loop_names(self) -> list[str]:
        return list(self._loops)

    def get(self, name: str) -> BaseLoop | None:
        return self._loops.get(name)

    def register(self, loop: BaseLoop) -> None:
        """Add a loop; one of the same name is replaced. After start_all it is not started
        (restart_loop or restart_stopped_loops start it), as in the seed."""
        if loop.name in self._loops:
            _log.warning("[%s] Loop '%s' already registered, replacing", self.name, loop.name)
        self._loops[loop.name] = loop

    def unregister(self, name: str) -> BaseLoop | None:
        """Forget a loop and return it (None if unknown); it is not stopped. One that the
        supervisor runs is stopped with it, at stop_all."""
        return self._loops.pop(name, None)

    async def start_all(
        self,
        verify_startup: bool = True,
        startup_timeout: float = 5.0,
    ) -> dict[str, bool]:
        """Start every loop, each once the loops it depends on run; returns name -> started
        (running, or it has run).

        A cycle in ``depends_on`` is logged and every loop still starts. Then wait up to
        ``startup_timeout`` s until each loop runs or has failed to start; ``verify_startup``
        is accepted and changes nothing (the seed also waited for each loop it started).
        """
        if self._sup is not None:
            _log.warning("[%s] Already started", self.name)
            return {name: loop.running for name, loop in self._loops.items()}
        # One already running (its own start_background) is left to run as it is.
        loops = {n: lp for n, lp in self._loops.items() if lp.treadle_loop.state not in LIVE}
        deps, cycles = startup_graph({n: lp.depends_on for n, lp in loops.items()})
        for cycle in cycles:
            _log.warning("[%s] Dependency cycle detected: %s", self.name, " -> ".join(cycle))
        specs = [
            ChildSpec(
                loop.treadle_loop,
                name=name,
                restart=Restart.TEMPORARY,  # the seed restarts only when asked to
                depends_on=tuple(deps[name]),
                shutdown_timeout=self.shutdown_timeout,
            )
            for name, loop in loops.items()
        ]
        sup = Supervisor(specs, name=self.name)
        await sup.start()
        self._sup = sup
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(startup_timeout):
                await _settle(sup, loops)
        return {n: lp.running or lp._treadle_view().total_runs > 0 for n, lp in self._loops.items()}

    async def stop_all(self, timeout: float = 30.0) -> dict[str, bool]:  # noqa: ASYNC109
        """Stop every loop within ``timeout`` s in all: the supervisor's dependants first,
        each given ``shutdown_timeout`` and then cancelled (treadle's shutdown); loops
        restarted since in tasks of their own, at the same time (``stop_async``).
        Returns name -> stopped; ``{}`` if the manager was not started."""
        sup, self._sup = self._sup, None
        if sup is None:
            return {}
        others = [
            loop
            for name, loop in self._loops.items()
            if not _run_by(sup, name, loop)
            and (loop.treadle_loop.state in LIVE or loop._task is not None)
        ]

        async def stop_one(loop: BaseLoop) -> None:
            try:
                await loop.stop_async(timeout)
            except Exception:  # noqa: BLE001 - one loop's failure is reported, the others stop
                _log.exception("[%s] loop %s failed", self.name, loop.name)

        try:
            async with asyncio.timeout(timeout), asyncio.TaskGroup() as tg:
                tg.create_task(sup.stop())
                for loop in others:
                    tg.create_task(stop_one(loop))
        except TimeoutError:  # the supervisor cancelled what was still stopping
            _log.warning("[%s] stop_all timed out after %gs", self.name, timeout)
        return {name: lp.treadle_loop.state not in LIVE for name, lp in self._loops.items()}

    def restart_loop(self, name: str) -> bool:
        """Start a stopped loop again in a task of its own (``start_background``): True if it
        runs or was started; False for an unknown or a disabled loop."""
        loop = self._loops.get(name)
        if loop is None:
            _log.warning("[%s] Cannot restart unknown loop: %s", self.name, name)
            return False
        if loop.running:
            return True
        if not loop.enabled:
            _log.info("[%s] Not restarting disabled loop: %s", self.name, name)
            return False
        _log.info("[%s] Restarting stopped loop: %s", self.name, name)
        loop.start_background()
        return True

    async def restart_stopped_loops(self) -> dict[str, bool]:
        """Start every enabled loop that is not running; returns name -> running, for those."""
        results: dict[str, bool] = {}
        for name, loop in list(self._loops.items()):
            if not loop.running and loop.enabled:
                _log.info("[%s] Auto-restarting stopped loop: %s", self.name, name)
                loop.start_background()
                await asyncio.sleep(0)  # its task's first step: the run has begun, or ended
                results[name] = loop.running
        return results

    def get_all_status(self) -> dict[str, dict[str, Any]]:
        """Each loop's get_status(), by name."""
        return {name: loop.get_status() for name, loop in self._loops.items()}

    def get_status(self) -> dict[str, Any]:
        """The README's keys: counts, and each loop's get_status(). A paused loop counts as
        running too; an error loop failed to start or failed its last run."""
        loops = self.get_all_status()
        return {
            "total_loops": len(loops),
            "running_loops": sum(s["running"] for s in loops.values()),
            "paused_loops": sum(s["paused"] for s in loops.values()),
            "error_loops": sum(_in_error(loop) for loop in self._loops.values()),
            "loops": loops,
        }

    def health_check(self) -> dict[str, Any]:
        """stopped before start_all; unhealthy when no loop runs; degraded when one is not
        running or fails more than half its runs; else healthy. With the counts, the
        failing loops and each loop's get_status()."""
        loops = self._loops
        running = sum(loop.running for loop in loops.values())
        stats = [loop._treadle_view() for loop in loops.values()]
        failing = [
            name
            for name, s in zip(loops, stats, strict=True)
            if s.total_runs > 0 and (100.0 - s.success_rate) / 100.0 > _FAILING
        ]
        if self._sup is None:
            status = "stopped"
        elif running == 0 and loops:
            status = "unhealthy"
        elif failing or running < len(loops):
            status = "degraded"
        else:
            status = "healthy"
        return {
            "status": status,
            "started": self.is_started,
            "loops_running": running,
            "total_loops": len(loops),
            "total_runs": sum(s.total_runs for s in stats),
            "total_errors": sum(s.failed_runs for s in stats),
            "failing_loops": failing,
            "loop_status": self.get_all_status(),
        }

    def __repr__(self) -> str:
        return f"<LoopManager {self.name!r} loops={len(self._loops)} started={self.is_started}>"


def _run_by(sup: Supervisor, name: str, loop: BaseLoop) -> bool:
    """Whether the supervisor's task runs this loop now."""
    return (
        name in sup.children
        and sup.target(name) is loop.treadle_loop
        and sup.child_state(name) in LIVE
    )


def _in_error(loop: BaseLoop) -> bool:
    """Failed (its start raised), or its last run failed."""
    engine = loop.treadle_loop
    return engine.state is State.FAILED or engine.metrics.consecutive_errors > 0
