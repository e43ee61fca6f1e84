"""A manager: a long-running task that turns spawn requests into running tasks.

Owns the manager's loop: claim requests (``treadle.spawn.requests`` → ``T{tid}.reserved``,
see ``_claims``), run each with a :class:`TaskRunner` (see ``_running``; its "started"
event is the acknowledgement: see ``_reports``), take tasks handed over on this
host (``_local``), answer control (``_control``), host a project's tree beside the tasks
(``_hosted``), and leave when idle. Beside that loop: its registry record and heartbeat
(``_presence``) and its leases (``_leasing``): while it cannot renew its own, it stops.
It is a :class:`~treadle.Runnable`, so ``treadle.run(manager)`` runs it like any task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._exceptions import TreadleError
from .._lifecycle import ENDED, State
from .._runnable import Runnable
from ..broker import (
    AsyncBroker,
    Broker,
    BrokerURL,
    TaskSpec,
    resolve,
)
from ..broker import names as q
from ..process import spawner as process_spawner
from ..supervisor import ChildSpec, Restart, Supervisor
from . import _claims, _control, _receipts, _registry
from ._files import Files, spare_dir
from ._hosted import Hosted
from ._leasing import Leasing
from ._local import LocalSubmit
from ._nudge import CONTROL, Nudge, poke
from ._output import OutputLimits
from ._pool import Pool
from ._presence import Presence
from ._reports import Reports
from ._runner import TaskRunner
from ._running import Running
from ._sdnotify import Notifier
from ._values import journal_dir

__all__ = ["Manager"]

_log = logging.getLogger("treadle.manager")
_CONTROL_EVERY = 0.05  # the manager's control queue is read at most this often
_CLAIM_WAIT = 0.02  # seconds a busy manager may wait to claim more slots at once
_CONTROL_SCAN = 2.0  # every task's control queue is read at least this often (and on a nudge)
_DRAIN = 10.0  # seconds a stopping manager waits for results the broker has not taken yet
_HOSTED_EVERY = 1.0  # seconds: how late the loop may see its hosted tree end
_LONGEST = 60.0  # seconds: the longest the loop sleeps when nothing falls due


class Manager:
    """Consumes spawn requests from a broker and runs them as supervised tasks.

    Args:
        broker: a path or URL (default ``$TREADLE_BROKER``, else ``.treadle/broker.db``).
        tid: this manager's TID (default: a fresh broker timestamp).
        idle_timeout: exit cleanly after this many seconds with no task and no request.
        capabilities: what it offers; it takes a task only if it offers all it needs.
        max_tasks: tasks run at once; further requests wait in the queue.
        heartbeat: seconds between registry heartbeats (dead after three missed).
        hosted: a tree to run beside the tasks (a project), steered by control requests
            with a ``target``; the manager ends when it ends, failing if it failed.
        services: more children of the manager's own tree (a dashboard), started after
            the broker is open, restarted if they fail, stopped with everything else.
        lease: seconds its leases last (default three heartbeats): its claims are taken
            back that long after it died; a manager that cannot renew its own in time stops.
        lead: take part in the fleet's leader election (``is_leader()``).
        output_limit: bytes of each task's output kept in the broker (its outbox); all
            of it is in ``<state dir>/logs/tasks/T{tid}.log``.
        line_limit: bytes of one output line kept (a mark says how much was cut).
        workers: warm worker processes for function tasks (default: the core count);
            see ``TaskSpec.isolation``.
        max_tasks_per_worker: a worker is replaced after this many tasks (None: never).
        max_memory_per_worker: a worker whose RSS is above this many bytes after a task
            is replaced (None: never).
    """

    def __init__(
        self,
        broker: str | os.PathLike[str] | BrokerURL | None = None,
        *,
        tid: int | None = None,
        idle_timeout: float | None = None,
        capabilities: Sequence[str] = (),
        max_tasks: int = 32,
        heartbeat: float = 2.0,
        hosted: Hosted | None = None,
        services: Sequence[Runnable] = (),
        lease: float | None = None,
        lead: bool = True,
        output_limit: int = 4 * 1024 * 1024,
        line_limit: int = 64 * 1024,
        workers: int | None = None,
        max_tasks_per_worker: int | None = None,
        max_memory_per_worker: int | None = None,
    ) -> None:
        self.url = broker if isinstance(broker, BrokerURL) else resolve(broker)
        self.tid = tid or 0
        self.idle_timeout = idle_timeout
        self.capabilities = tuple(capabilities)
        self.max_tasks = max_tasks
        self.heartbeat = heartbeat
        self.hosted = hosted
        self.services = list(services)
        self.leasing = Leasing(self, lease or 3 * heartbeat, lead)
        self.reports = Reports(self)
        self.claimer = _claims.Claimer(self.capabilities)
        logs = self.url.state_dir / "logs" / "tasks"
        self.output = OutputLimits(logs, broker_bytes=output_limit, line_bytes=line_limit)
        self.presence = Presence(self)
        self.pool = Pool(
            workers or os.cpu_count() or 1,
            max_tasks=max_tasks_per_worker,
            max_memory=max_memory_per_worker,
            line_limit=line_limit,
        )
        self.files = Files()  # its tasks' result files, reserved and removed off the loop
        self.failure: str | None = None  # why the hosted tree failed, once it has
        self.fenced_event = asyncio.Event()  # it lost its lease: it stops without the broker
        self._serving: asyncio.Task[None] | None = None
        self.state_dir = self.url.state_dir
        self._results = self.state_dir / "results"  # function tasks' result files
        self.paused = False
        self.started_at = time.time()
        self.runners: dict[int, tuple[TaskRunner, int]] = {}  # tid → (runner, message ID)
        self.supervisor = Supervisor(name="manager", intensity=1_000_000, period=1.0)
        self.running = Running()  # its tasks (the tree has its hosted project and services)
        self._ab: AsyncBroker | None = None
        self.stopping = asyncio.Event()
        self.stopped = asyncio.Event()  # the tree has stopped: the last heartbeat is due
        self.last_busy = time.monotonic()
        self._last_control = 0.0
        self._last_scan = 0.0
        self._control_nudged = False
        self._claim_wanted = False  # a change came that no pass has claimed for yet
        self._last_claim = 0.0
        self.nudge: Nudge | None = None
        self.local: LocalSubmit | None = None
        self._accepting = 0  # local submissions being written, counted as taken slots
        self.notifier = Notifier.from_environ()  # started by systemd: READY=1, WATCHDOG=1...

    @property
    def name(self) -> str:
        return f"manager-{self.tid}"

    @property
    def ab(self) -> AsyncBroker:
        assert self._ab is not None, "manager not running"
        return self._ab

    # -- Runnable -------------------------------------------------------------------------

    async def run(self, started: Callable[[], None]) -> None:
        released = False  # its claims are all settled: it may say it stopped
        broker = Broker(self.url)
        self._ab = ab = AsyncBroker(broker)
        try:
            if not self.tid:
                self.tid = await ab.call(broker.timestamp)
            await ab.start(watch=(q.SPAWN, q.ctrl_in(self.tid)))  # natively, where notified
            for sub in ("procs", "results"):
                (self.state_dir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            self.files.spares_in(spare_dir(self.state_dir / "results", self.tid))
            values = journal_dir(self.state_dir / "results", self.tid)
            os.makedirs(values, mode=0o700, exist_ok=True)
            self.files.journals_in(values)
            if self.url.local:
                self.nudge = Nudge(f"@treadle-{self.tid}", self._nudged)
                await self.nudge.start()
                self.local = LocalSubmit(self)
                await self.local.start()
            await ab.call(_registry.recover, broker, self.tid, str(self.state_dir))
            # The spawner's watchdog kills this manager's task processes when its lease
            # runs out unrenewed: a manager frozen (SIGSTOP, a paused VM) cannot stop them
            # itself, and another manager may run them from then on. Thawed, the manager
            # renews (nobody took its tasks: they end by their restart policy) or fences.
            self.leasing.on_deadline = (await process_spawner()).deadline
            await self.leasing.start()
            await self.pool.start(self._record_dir, (values, self.files))
            if self.hosted is not None:
                self.hosted.set_leader(self.is_leader)
            async with self.supervisor, asyncio.TaskGroup() as tg:
                if self.hosted is not None:
                    self.supervisor.add(
                        ChildSpec(
                            self.hosted.tree(), name=self.hosted.name, restart=Restart.TEMPORARY
                        )
                    )
                for service in self.services:
                    self.supervisor.add(ChildSpec(service, name=service.name))
                await self.presence.publish("active")
                started()
                self.notifier.ready(f"manager {self.tid} up")
                _log.info("manager %s up (pid %d, broker %s)", self.tid, os.getpid(), self.url)
                upkeep = [
                    tg.create_task(self.presence.run(), name=f"{self.name}:heartbeat"),
                    tg.create_task(self.reports.run(), name=f"{self.name}:flush"),
                    tg.create_task(self.leasing.run(), name=f"{self.name}:leases"),
                    tg.create_task(self.notifier.keep_alive(), name=f"{self.name}:watchdog"),
                ]
                self._serving = tg.create_task(self._serve(), name=f"{self.name}:serve")
                try:
                    await self._serving
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if not self.fenced or (task is not None and task.cancelling()):
                        raise  # not the fence's doing: this manager itself is cancelled
                finally:
                    self.stopping.set()
                    self.notifier.stopping(f"manager {self.tid} stopping")
                    # every task reports how it ended
                    await asyncio.gather(self.running.stop(), self.supervisor.stop())
                    await self.pool.aclose()
                    if not self.fenced:
                        await self.reports.drain(_DRAIN)
                        released = await self._release_claims()
                    self.stopped.set()  # heartbeats went on while the tree stopped
                    for task in upkeep[1:] if not self.fenced else upkeep:
                        task.cancel()  # fenced: whatever broker call they wait on, too
        finally:
            ended = "dead"  # what its record says once its process is gone, unless:
            try:
                if self.presence.mid is not None and not self.fenced and released:
                    with contextlib.suppress(Exception):  # the broker may be the problem
                        async with asyncio.timeout(5):
                            await self.presence.publish("stopped")
                            ended = "stopped"
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(5):
                            await self.leasing.release()
            finally:
                self.notifier.close()
                if self.nudge is not None:
                    self.nudge.close()
                if self.local is not None:
                    await self.local.aclose(ended)
                await self.pool.aclose()  # (again, if the tree never started: a no-op)
                await asyncio.to_thread(self.files.close)  # the last removals
                await self.leasing.aclose(wait=not self.fenced)
                await ab.aclose(wait=not self.fenced)  # fenced: the broker may hang
        if self.failure is not None:
            raise TreadleError(f"manager {self.tid}: {self.failure}")

    async def _release_claims(self) -> bool:
        """At a clean stop: drop the claims of ended tasks, put back those it never
        started; True when none is left. Otherwise (a result not yet written, the broker
        refusing) its record stays active and its lease runs out: it is recovered as a
        dead manager's, from the exits its processes left."""
        try:
            await self.reports.flush()
            released = await self.ab.call(self._release_io)
            await self._nudge_peers()  # what it never started is theirs to take now
            return released
        except Exception as exc:  # noqa: BLE001 (the broker failed: recovery will settle them)
            _log.warning("manager %s: its claims are left to recovery: %s", self.tid, exc)
            return False

    def _release_io(self) -> bool:
        broker = self.ab.broker
        self.leasing.check()
        results = str(self.state_dir / "results")
        _registry.take_back(broker, self.tid, self.tid, "stopped", {}, results, settle=False)
        return not broker.has_pending(q.reserved(self.tid))

    def _hosted_end(self) -> str | None:
        """Why the hosted tree ended on its own (None while it runs)."""
        if self.hosted is None:
            return None
        name = self.hosted.name
        try:
            state = self.supervisor.child_state(name)
        except LookupError:
            return None
        if state not in ENDED:
            return None
        info = self.supervisor.status()["children"].get(name, {})
        return str(info.get("last_exit") or state)

    def is_leader(self) -> bool:
        """Whether this manager leads the fleet now (it holds the leader lease)."""
        return self.leasing.is_leader()

    def fence(self, why: str) -> None:
        """Stop now, failing, without the broker (it may be out of reach): this manager
        must not go on running tasks (``why``); other managers will run them."""
        _log.error("manager %s: %s: stopping its tasks and itself", self.tid, why)
        self.failure = why
        self.fenced_event.set()
        self.request_stop()
        if self._serving is not None:
            self._serving.cancel()  # it may wait on a broker call that will not return

    @property
    def fenced(self) -> bool:
        return self.fenced_event.is_set()

    def _nudged(self, kinds: set[bytes]) -> None:
        if CONTROL in kinds:
            self._control_nudged = True
        self.ab.poke()

    def request_stop(self) -> None:
        self.stopping.set()
        if self._ab is not None:
            self._ab.poke()

    def pause(self) -> None:
        self.paused = True
        self.supervisor.pause()
        self.running.pause()

    def resume(self) -> None:
        self.paused = False
        self.supervisor.resume()
        self.running.resume()
        if self._ab is not None:
            self._ab.poke()

    def status(self) -> dict[str, Any]:
        return {
            "tid": self.tid,
            "kind": "manager",
            "pid": os.getpid(),
            "broker": str(self.url),
            "paused": self.paused,
            "capabilities": list(self.capabilities),
            "started_at": self.started_at,
            "tasks": [runner.status() for runner, _ in self.runners.values()],
            "workers": self.pool.status(),
            "project": None if self.hosted is None else self.hosted.status(),
            **self.leasing.status(),
        }

    # -- the loop -------------------------------------------------------------------------

    async def _serve(self) -> None:
        """Wake on a change (a nudge, a poke, a native notification: see
        :meth:`AsyncBroker.changed`) or when something falls due (see :meth:`_sleep`);
        read control requests and take work. Idle, nothing falls due: it sleeps.

        What a writer that does not nudge wrote (a plain simplebroker write on SQLite, a
        lost nudge) is found by the heartbeat, which looks for it in the same job on the
        broker thread (:meth:`look_io`) and pokes: the fallback costs no wake-up of its
        own, and sees such work within one heartbeat (2 s by default).

        A task's control queue is read when a client nudges (local clients do, after
        writing one) and every two seconds otherwise: reading every task's queue on every
        change would cost one read per task per write, and a busy manager writes all the
        time. The manager's own control queue is read on every change (on PostgreSQL it is
        one of the queues whose notifications wake it)."""
        ab = self.ab
        control_due = True
        while not self.stopping.is_set():
            changed = await ab.changed(self._sleep(control_due))
            if self.stopping.is_set():
                return
            now = time.monotonic()
            scan_due = bool(self.runners) and now - self._last_scan >= _CONTROL_SCAN
            control_due = control_due or changed or scan_due
            try:
                if control_due and now - self._last_control >= _CONTROL_EVERY:
                    control_due = False
                    self._last_control = now
                    scan = self._control_nudged or now - self._last_scan >= _CONTROL_SCAN
                    if scan:
                        self._control_nudged = False
                        self._last_scan = now
                    await _control.check(self, tasks=scan)
                self._claim_wanted = self._claim_wanted or changed
                claim = self.claimer.due() or (self._claim_wanted and self._claim_now(now))
                if claim and not self.paused:
                    self._claim_wanted, self._last_claim = False, now
                    if await self._take():
                        self.last_busy = now
            except Exception as exc:  # noqa: BLE001 (the broker failed: its lease decides how long to try)
                _log.warning("manager %s: the broker failed: %s", self.tid, exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self.stopping.wait()
            if self.hosted is not None and (why := self._hosted_end()) is not None:
                _log.warning("manager %s: %s ended (%s): exiting", self.tid, self.hosted.name, why)
                if self.supervisor.child_state(self.hosted.name) is not State.STOPPED:
                    self.failure = f"{self.hosted.name} {why}"
                return
            if self.runners:
                self.last_busy = now
            elif self.idle_timeout is not None and now - self.last_busy > self.idle_timeout:
                _log.info("manager %s idle for %.1fs: exiting", self.tid, self.idle_timeout)
                return

    def _sleep(self, control_due: bool) -> float:
        """How long the loop may wait for a change: until the next thing falls due (the
        control read a change asked for, the tasks' control scan, the claimer's sweep
        while it may claim, the idle timeout, a look at the hosted tree), else long."""
        now = time.monotonic()
        wait = _HOSTED_EVERY if self.hosted is not None else _LONGEST
        if control_due:  # a change came within _CONTROL_EVERY of the last read
            wait = min(wait, _CONTROL_EVERY - (now - self._last_control))
        elif self.runners:  # their control queues are read every _CONTROL_SCAN
            wait = min(wait, _CONTROL_SCAN - (now - self._last_scan))
        if not self.paused and len(self.runners) + self._accepting < self.max_tasks:
            wait = min(wait, max(self.claimer.next_due() - now, _CONTROL_EVERY))
            if self._claim_wanted:  # a change it has not claimed for yet (see _claim_now)
                wait = min(wait, self._last_claim + _CLAIM_WAIT - now)
        if self.idle_timeout is not None and not self.runners:
            wait = min(wait, self.last_busy + self.idle_timeout - now + 0.001)
        return max(0.0, wait)

    def _claim_now(self, now: float) -> bool:
        """Whether a change is claimed for now: when a quarter of its slots are free, when
        it runs nothing, or ``_CLAIM_WAIT`` s after its last pass. A busy manager frees a
        slot or two with each batch of results: a pass for each cost a transaction (and a
        sync) per task or two, for work it had queued anyway."""
        free = self.max_tasks - len(self.runners) - self._accepting
        batch = max(1, self.max_tasks // 4)
        return free >= batch or not self.runners or now - self._last_claim >= _CLAIM_WAIT

    def look_io(self) -> bool:
        """Broker thread: whether a writer that did not nudge left work or control here
        (a spawn request past what the claimer judged, a request on its control queue)."""
        broker = self.ab.broker
        return broker.has_pending(q.ctrl_in(self.tid)) or self.claimer.behind(broker)

    async def _take(self) -> int:
        free = self.max_tasks - len(self.runners) - self._accepting
        if free <= 0:
            return 0
        taken = await self.ab.call(self._reserve, free)
        for spec, mid in taken:
            try:
                self._launch(spec, mid)
            except Exception as exc:  # noqa: BLE001 (one task that cannot be added fails alone)
                self.runners.pop(spec.tid, None)
                await self.reports.unlaunched(spec, mid, f"cannot launch: {exc}")
        return len(taken)

    def _launch(self, spec: TaskSpec, mid: int) -> None:
        """Start a reserved request (see ``_running``)."""
        runner = TaskRunner(
            spec,
            self.reports,
            self._results,
            self._record_dir,
            self.output,
            self.pool,
            files=self.files,
        )
        self.runners[spec.tid] = (runner, mid)
        self.running.start(runner, shutdown_timeout=spec.stop_timeout + 2.0)

    async def accept(self, fields: dict[str, Any], request: str) -> tuple[TaskSpec, bool]:
        """A task handed over locally as ``request`` (see :mod:`._receipts`): mint its
        TID, write it durably, and run it here when this manager can (else it goes on the
        spawn queue for any manager). A request its client has meanwhile queued itself is
        not written again: the spec comes back with the TID it was queued under.

        Returns the spec and whether it runs here. Raises pydantic's ValidationError for a
        bad spec, before anything is written.
        """
        TaskSpec.model_validate({**fields, "tid": 1})  # refuse a bad spec before writing
        free = not self.stopping.is_set() and not self.paused
        free = free and len(self.runners) + self._accepting < self.max_tasks
        self._accepting += 1  # a slot held while the spec is written
        try:
            spec, here = await self.ab.call(self._accept_io, fields, request, free)
        finally:
            self._accepting -= 1
        if here:
            self._launch(spec, spec.tid)
            self.last_busy = time.monotonic()
        else:
            await self._nudge_peers()  # queued for any manager: those that can look now
        return spec, here

    async def _nudge_peers(self) -> None:
        """Nudge the other live managers of a local broker: work waits on the spawn queue
        (one registry read; a lost nudge costs them only their fallback wait)."""
        if not self.url.local:
            return
        records = await self.ab.call(_registry.alive, self.ab.broker)
        for record in records:
            if record.socket and record.tid != self.tid:
                poke(record.socket)

    def _accept_io(self, fields: dict[str, Any], request: str, free: bool) -> tuple[TaskSpec, bool]:
        """Broker thread: mint the TID, then reserve the task here (recovered like any
        claim if this manager dies now) or queue it for any manager, with its receipt."""
        broker = self.ab.broker
        self.leasing.check()
        spec = TaskSpec.model_validate({**fields, "tid": broker.timestamp()})
        here = free and set(spec.capabilities) <= set(self.capabilities)
        queue = q.reserved(self.tid) if here else q.SPAWN
        tid = _receipts.record(broker, request, spec.tid, [(queue, spec, spec.tid)])
        if tid != spec.tid:  # its client gave up waiting and queued it itself
            return spec.model_copy(update={"tid": tid}), False
        if here:
            _claims.write_inbox(broker, spec)
        return spec, here

    def stop_task(self, tid: int, reason: str) -> None:
        """Ask one task to stop; it reports how it ended as usual."""
        got = self.runners.get(tid)
        if got is not None:
            _log.info("task %s: %s", tid, reason)
            got[0].request_stop()

    @property
    def _record_dir(self) -> str:
        return f"{self.state_dir}/procs/{self.tid}"  # (made for each task: no pathlib)

    def _reserve(self, free: int) -> list[tuple[TaskSpec, int]]:
        """Broker thread: claim up to ``free`` requests this manager can run."""
        self.leasing.check()
        return self.claimer.claim(self.ab.broker, self.tid, free)

    def __repr__(self) -> str:
        return f"<Manager {self.tid} tasks={len(self.runners)}>"
