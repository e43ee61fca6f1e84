"""The seed's LoopManager: BaseLoops as the children of one treadle Supervisor.

Owns :class:`LoopManager`: a registry of loops by name, and the translation of the seed's
calls onto a :class:`~treadle.supervisor.Supervisor` built at ``start_all`` (start order
by ``depends_on`` and cycle errors, dependants stopped first, bounded stops, operator
restarts). Status and health are read from the loops; nothing here waits on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any, Final

from .._lifecycle import ENDED, State
from ..health import rollup
from ..supervisor import ChildSpec, Restart, Supervisor
from ._p2p_loop import LIVE, BaseLoop, health_dict, in_error, verdict

__all__ = ["LoopManager"]

_log = logging.getLogger("treadle.compat.p2p")
_SETTLED: Final = ENDED | {State.RUNNING, State.PAUSED}  # what start_all waits for


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
        name: the supervisor's name.
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
        """Add a loop. Before start_all one of the same name is replaced (the seed's rule);
        after it the loop starts at once, and a name in use raises DuplicateChild."""
        sup = self._sup
        if sup is None:
            if loop.name in self._loops:
                _log.warning("%s: loop %r already registered, replacing it", self.name, loop.name)
            self._loops[loop.name] = loop
            return
        sup.add(self._spec(loop, set(sup.children)))  # treadle's Supervisor.add starts it
        self._loops[loop.name] = loop

    def unregister(self, name: str) -> BaseLoop | None:
        """Forget a loop and return it (None if unknown); a running one is asked to stop.

        It stays a stopped child of the supervisor until stop_all: Supervisor.remove() is
        a coroutine, and the seed's unregister() is not.
        """
        loop = self._loops.pop(name, None)
        if loop is not None and self._sup is not None:
            loop.stop()
        return loop

    def _spec(self, loop: BaseLoop, known: set[str]) -> ChildSpec:
        # The seed ignores dependencies on loops nobody registered, so we do (treadle would
        # raise DependencyError). Temporary: the seed never restarts a loop on its own, and
        # one that stop() ended stays stopped (restart_loop is the operator's restart).
        return ChildSpec(
            loop.treadle_loop,
            name=loop.name,
            restart=Restart.TEMPORARY,
            depends_on=tuple(d for d in loop.depends_on if d in known),
            shutdown_timeout=self.shutdown_timeout,
        )

    async def start_all(
        self,
        verify_startup: bool = True,
        startup_timeout: float = 5.0,
    ) -> dict[str, bool]:
        """Start every loop, each once the loops it depends on run; returns name -> running.

        A cycle in ``depends_on`` raises DependencyError naming it (``a -> b -> a``) before
        anything starts. With ``verify_startup``, wait up to ``startup_timeout`` s until
        each loop runs or has failed to start.
        """
        if self._sup is not None:
            _log.warning("%s: already started", self.name)
        else:
            known = set(self._loops)
            specs = [self._spec(loop, known) for loop in self._loops.values()]
            sup = Supervisor(specs, name=self.name)  # checks the graph: unknown names, cycles
            await sup.start()
            self._sup = sup
            if verify_startup:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(startup_timeout):
                        await _settle(sup, self._loops)
        return {name: loop.running for name, loop in self._loops.items()}

    async def stop_all(self, timeout: float = 30.0) -> dict[str, bool]:  # noqa: ASYNC109
        """Stop every loop, dependants first, within ``timeout`` s in all: each loop gets
        ``shutdown_timeout`` to stop gracefully, then is cancelled (treadle's shutdown).
        Returns name -> stopped."""
        sup, self._sup = self._sup, None
        if sup is None:
            return {}
        try:
            async with asyncio.timeout(timeout):
                await sup.stop()
        except TimeoutError:  # the supervisor cancelled what was still stopping
            _log.warning("%s: loops still stopping after %gs were cancelled", self.name, timeout)
        return {name: lp.treadle_loop.state not in LIVE for name, lp in self._loops.items()}

    async def restart_loop(self, name: str, startup_timeout: float = 5.0) -> bool:
        """Stop a loop and start it again at once (treadle's Supervisor.restart: no backoff,
        no intensity); True once it runs. False for an unknown loop or before start_all."""
        sup = self._sup
        if sup is None or name not in self._loops:
            _log.warning("%s: cannot restart %r (started: %s)", self.name, name, sup is not None)
            return False
        await sup.restart(name)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(startup_timeout):
                await _settle(sup, [name])
        return self._loops[name].running

    def get_all_status(self) -> dict[str, dict[str, Any]]:
        """Each loop's get_status(), by name."""
        return {name: loop.get_status() for name, loop in self._loops.items()}

    def get_status(self) -> dict[str, Any]:
        """The README's keys: counts, and each loop's get_status(). A paused loop counts as
        running too; an error loop failed to start or erred on its last run."""
        loops = self.get_all_status()
        return {
            "total_loops": len(loops),
            "running_loops": sum(s["running"] for s in loops.values()),
            "paused_loops": sum(s["paused"] for s in loops.values()),
            "error_loops": sum(in_error(loop) for loop in self._loops.values()),
            "loops": loops,
        }

    def health_check(self) -> dict[str, Any]:
        """The worst loop's verdict (treadle's roll-up, every reason kept), whether the
        manager is started, the counts of get_status, and each loop's health_check()."""
        verdicts = {name: verdict(loop) for name, loop in self._loops.items()}
        top = rollup(verdicts)
        return {
            "healthy": top.ok,
            "status": top.status.value,
            "message": top.reason,
            "started": self.is_started,
            "total_loops": len(self._loops),
            "running_loops": sum(loop.running for loop in self._loops.values()),
            "error_loops": sum(in_error(loop) for loop in self._loops.values()),
            "loops": {n: health_dict(self._loops[n], v) for n, v in verdicts.items()},
        }

    def __repr__(self) -> str:
        return f"<LoopManager {self.name!r} loops={len(self._loops)} started={self.is_started}>"
