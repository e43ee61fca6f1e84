"""Adoption: a supervisor takes on an asyncio task its caller created (:meth:`Supervisor.adopt`).

Owns :class:`Adoption`, the handle ``adopt()`` returns, and :class:`AdoptedTask`, the
Runnable behind each run of an adopted child. An adopted child is a child like any other:
its target is the Adoption, whose first start hands over the caller's task and whose later
ones (restarts, decided by the child's restart type, backoff and the supervisor's intensity
in ``_restarts``, as for every child) call the restart factory for a new one. A run is a
small task that waits for the adopted task and ends as it ends, with its outcome; stopping
the child cancels the adopted task. It owns no restart policy and none of the task's work.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, cast

from .._backoff import Backoff
from .._exceptions import ChildNotFound, ConfigError, TreadleError
from .._lifecycle import ENDED, UP, State, Transition
from ._child import Child
from ._coroutine import CoroutineTarget
from ._restarts import spawn
from ._spec import ChildSpec, Restart

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["AdoptedTask", "Adoption", "RestartFactory", "adopt"]

RestartFactory = Callable[[], Awaitable[object]]
"""Makes the work anew for a restart: a coroutine, or a task already created."""

_STOP: Final = "treadle: stop requested"
_REPLACED: Final = "treadle: replaced by the caller"


def adopt(
    sup: Supervisor,
    task: asyncio.Future[Any],
    factory: RestartFactory,
    *,
    name: str | None,
    restart_type: Restart | str,
    backoff: Backoff,
    shutdown_timeout: float | None,
    log: bool,
    on_transition: Callable[[Transition], None] | None,
) -> Adoption:
    """Make ``task`` a child of ``sup`` (see :meth:`Supervisor.adopt`)."""
    if not isinstance(task, asyncio.Future):
        raise ConfigError("task", f"must be an asyncio Task or Future, got {type(task).__name__}")
    if not callable(factory):
        raise ConfigError("restart", f"must be a zero-argument callable, got {factory!r}")
    if name is None:
        name = task.get_name() if isinstance(task, asyncio.Task) else ""
    adoption = Adoption(name, task, factory, on_transition)
    spec = ChildSpec(
        adoption,
        name=name,
        restart=cast(Restart, restart_type),  # ChildSpec checks a string and converts it
        backoff=backoff,
        shutdown_timeout=shutdown_timeout,
        log=log,
        on_transition=adoption._observe,
    )
    sup.add(spec)  # a duplicate name raises here, and the task stays the caller's
    adoption._sup, adoption._child = sup, sup._children[spec.name]
    return adoption


class AdoptedTask(CoroutineTarget):
    """One run of an adopted child: it waits for the task it stands for and ends with it.

    A CoroutineTarget (never paused) whose awaitable is a task of its own. The run returns,
    raises the task's exception, or ends cancelled, as the task did. Stopping cancels the
    task; a run that is itself cancelled (a stop that timed out) cancels the task again and
    still waits for it, so that a task ignoring cancellation is reported and abandoned by
    the supervisor, never silently left behind.
    """

    __slots__ = ("_adopted", "_wake")

    def __init__(self, name: str, task: asyncio.Future[Any]) -> None:
        super().__init__(name, task)
        self._adopted = task
        self._wake: asyncio.Future[None] | None = None

    @property
    def task(self) -> asyncio.Future[Any]:
        return self._adopted

    async def run(self, started: Callable[[], None]) -> None:
        self._task = asyncio.current_task()
        self.beat()
        started()
        stop: asyncio.CancelledError | None = None
        loop = asyncio.get_running_loop()
        while not (task := self._adopted).done():  # a hand-over wakes us for the new one
            self._wake = wake = loop.create_future()
            task.add_done_callback(self._woken)
            try:
                await wake
            except asyncio.CancelledError as cancel:
                stop = cancel  # raised below, once what we stand for has ended too
                task.cancel(_STOP)
            finally:
                task.remove_done_callback(self._woken)
                self._wake = None
        if stop is not None:
            raise stop
        task.result()  # its exception, or its cancellation, is this run's outcome

    def _woken(self, _: object = None) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def hand_over(self, task: asyncio.Future[Any]) -> None:
        """Go on waiting for ``task`` instead; the one before is let go (cancelled)."""
        old, self._adopted = self._adopted, task
        if old is not task:
            _let_go(old)
        self._woken()

    def request_stop(self) -> None:
        self._adopted.cancel(_STOP)

    def status(self) -> dict[str, Any]:
        task = self._adopted
        return super().status() | {
            "kind": "adopted",
            "task": task.get_name() if isinstance(task, asyncio.Task) else repr(task),
        }


class Adoption:
    """What :meth:`Supervisor.adopt` returns: the adopted child, as its caller sees it.

    It is also the child's target: each start of the child calls it for the run's task,
    the caller's own first (or one it handed over with :meth:`replace`), the restart
    factory's after that.
    """

    __slots__ = (
        "_child",
        "_factory",
        "_name",
        "_next",
        "_next_is_stale",
        "_observer",
        "_run",
        "_sup",
    )

    def __init__(
        self,
        name: str,
        task: asyncio.Future[Any],
        factory: RestartFactory,
        observer: Callable[[Transition], None] | None,
    ) -> None:
        self._name = name
        self._factory = factory
        self._observer = observer
        self._next: asyncio.Future[Any] | None = task  # what the next start runs
        self._next_is_stale = False  # handed over during a backoff, and ended since
        self._run: AdoptedTask | None = None  # the current (or last) run: one per start
        self._sup: Supervisor | None = None
        self._child: Child | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def task(self) -> asyncio.Future[Any]:
        """The task supervised now: the caller's, or the one the last restart made."""
        if self._next is not None:
            return self._next
        assert self._run is not None  # the next start's task is taken only to make a run
        return self._run.task

    @property
    def state(self) -> State:
        return self._bound().state

    @property
    def attempt(self) -> int:
        """The restart attempt the child is at: its backoff's count, 0 after a long run."""
        return self._bound().attempt

    @property
    def restart_type(self) -> Restart:
        return self._bound().spec.restart

    @restart_type.setter
    def restart_type(self, value: Restart | str) -> None:
        """Change when the child is restarted; read the next time its task ends."""
        child = self._bound()
        if value != child.spec.restart:  # ChildSpec checks and converts a string
            child.spec = dataclasses.replace(child.spec, restart=cast(Restart, value))

    def replace(self, task: asyncio.Future[Any]) -> None:
        """The caller restarted the work itself: supervise ``task`` instead, and cancel the
        task before it if still running. No restart is counted.

        A running child goes on with ``task`` at once. One waiting out a restart backoff
        runs it when the restart comes (the factory is called then only if ``task`` has
        ended meanwhile). One that has ended (stopped, failed, given up) starts again now.
        """
        child = self._bound()
        sup = self._sup
        assert sup is not None
        if sup._children.get(child.name) is not child:
            raise ChildNotFound(f"{sup.path}: {child.name!r} was removed")
        if child.state is State.STOPPING or sup._closing:
            raise TreadleError(f"{sup.path}.{child.name} is stopping: cannot replace its task")
        if self._run is not None and (child.state in UP or child.state is State.STARTING):
            self._run.hand_over(task)
            return
        if self._next is not None and self._next is not task:
            _let_go(self._next)
        self._next = task
        self._next_is_stale = child.state is State.BACKOFF
        if child.state in ENDED and sup.state is State.RUNNING:
            spawn(sup, child)

    def __call__(self) -> AdoptedTask:
        """The child's target: the run for this start (called by the supervisor)."""
        task, self._next = self._next, None
        if task is not None and self._next_is_stale and task.done():
            _let_go(task)  # it ended while a restart was due: that restart makes a new one
            task = None
        self._next_is_stale = False
        if task is None:
            task = _as_task(self.name, self._factory())
        self._run = AdoptedTask(self.name, task)
        return self._run

    def _observe(self, t: Transition) -> None:
        if t.to in (State.STOPPED, State.GIVEN_UP) and self._next is not None:
            _let_go(self._next)  # stopped or removed before it could start: it ends here
            self._next = None
        if self._observer is not None:
            self._observer(t)

    def _bound(self) -> Child:
        assert self._child is not None, "an Adoption is made by Supervisor.adopt()"
        return self._child

    def __repr__(self) -> str:
        state = self._child.state.value if self._child is not None else "unbound"
        return f"<Adoption {self.name!r} {state} task={self.task!r}>"


def _as_task(name: str, made: object) -> asyncio.Future[Any]:
    if isinstance(made, asyncio.Future):
        return made
    if asyncio.iscoroutine(made):
        return asyncio.get_running_loop().create_task(made, name=name)
    if isinstance(made, Awaitable):
        return asyncio.ensure_future(made)
    raise TypeError(f"{name!r}: restart factory returned {type(made).__name__}, not an awaitable")


def _let_go(task: asyncio.Future[Any]) -> None:
    """A task no longer supervised: cancel it if it runs, else read its exception (asyncio
    would report one never retrieved)."""
    if not task.done():
        task.cancel(_REPLACED)
    elif not task.cancelled():
        task.exception()
