"""A manager's tasks while they run: :class:`Running`.

Owns each task's :class:`~treadle.manager.TaskRunner` run as an asyncio task of the
manager's own, its lifecycle state (starting, running, paused, stopping), PAUSE and RESUME
by the lifecycle's transition rules (a PAUSE of a paused task is refused, as a
Supervisor refuses it), and stopping them all when the manager stops as a Supervisor
stops its children: each asked to stop and given its ``shutdown_timeout``, then
cancelled (its runner still reports how its task ended), and abandoned, never waited on,
``CANCEL_GRACE`` seconds after that.

Why not children of the manager's Supervisor, as they were: a task is started once and
never restarted by the tree (its runner retries its attempts itself), yet a child cost
the Supervisor's bookkeeping at each add and remove (a look at every other child for a
health monitor and for dependants: ~10% of a busy manager's loop, and a task of its own
to take it out again). The manager's hosted tree and services stay its children.

It owns nothing of what a task does (``_runner``) nor of what is written (``_reports``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .._lifecycle import State, check_transition

if TYPE_CHECKING:
    from ._runner import TaskRunner

__all__ = ["CANCEL_GRACE", "Running"]

CANCEL_GRACE = 5.0  # seconds a cancelled runner has to end before it is abandoned
_log = logging.getLogger("treadle.manager")


class _Task:
    __slots__ = ("job", "runner", "shutdown_timeout", "state")

    def __init__(self, runner: TaskRunner, shutdown_timeout: float) -> None:
        self.runner = runner
        self.shutdown_timeout = shutdown_timeout
        self.state = State.STARTING
        self.job: asyncio.Task[None] | None = None

    def started(self) -> None:
        if self.state is State.STARTING:
            self.state = State.RUNNING


class Running:
    """The tasks a manager runs now, by runner name (``T{tid}``)."""

    def __init__(self) -> None:
        self._tasks: dict[str, _Task] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, runner: TaskRunner, shutdown_timeout: float) -> None:
        """Run ``runner`` until its task ends; then it is forgotten."""
        task = _Task(runner, shutdown_timeout)
        self._tasks[runner.name] = task
        task.job = asyncio.ensure_future(self._run(task))

    async def _run(self, task: _Task) -> None:
        try:
            await task.runner.run(task.started)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 (a bug of the runner's: logged, the manager goes on)
            _log.exception("%s: its runner failed", task.runner.name)
        finally:
            task.state = State.STOPPED
            if self._tasks.get(task.runner.name) is task:
                del self._tasks[task.runner.name]

    def state(self, name: str) -> State:
        """Task ``name``'s lifecycle state (stopped once it has ended)."""
        task = self._tasks.get(name)
        return State.STOPPED if task is None else task.state

    def pause(self, name: str | None = None) -> None:
        """Pause task ``name`` (InvalidTransition unless it runs), or every running one."""
        for task in self._which(name, State.RUNNING):
            check_transition(task.runner.name, task.state, State.PAUSED)
            task.runner.pause()
            task.state = State.PAUSED

    def resume(self, name: str | None = None) -> None:
        """Resume task ``name`` (InvalidTransition unless it is paused), or every paused one."""
        for task in self._which(name, State.PAUSED):
            check_transition(task.runner.name, task.state, State.RUNNING)
            task.runner.resume()
            task.state = State.RUNNING

    def _which(self, name: str | None, state: State) -> list[_Task]:
        if name is None:
            return [t for t in self._tasks.values() if t.state is state]
        task = self._tasks.get(name)
        if task is None:
            check_transition(name, State.STOPPED, state)  # raises: it has ended
            return []
        return [task]

    async def stop(self) -> None:
        """Stop every task (see the module docstring); return once none runs."""
        loop = asyncio.get_running_loop()
        pending: dict[asyncio.Task[None], tuple[_Task, float, bool]] = {}
        for task in list(self._tasks.values()):
            if task.job is None or task.job.done():
                continue
            task.state = State.STOPPING
            task.runner.request_stop()
            pending[task.job] = (task, loop.time() + task.shutdown_timeout, False)
        while pending:
            now = loop.time()
            for job, (task, deadline, cancelled) in list(pending.items()):
                if job.done():
                    del pending[job]
                elif now >= deadline and cancelled:
                    _log.error("%s: still running after its cancellation: abandoned", job)
                    del pending[job]
                elif now >= deadline:
                    job.cancel()  # its patience ran out: the runner reports "stopped"
                    pending[job] = (task, now + CANCEL_GRACE, True)
            if pending:
                wait = min(deadline for _, deadline, _ in pending.values()) - loop.time()
                await asyncio.wait(
                    list(pending), timeout=max(wait, 0.0), return_when="FIRST_COMPLETED"
                )
