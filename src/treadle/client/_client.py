"""The Python client: submit tasks, wait for results, follow output, control, list.

Owns the caller's side of the task protocol: it mints TIDs with the broker's timestamp
generator and writes each spawn request under its TID as message ID (one first offered to
the local manager with its receipt, so that it is written once: see :mod:`treadle._wire`);
it waits on the
task's outbox; it sends control requests with a reply queue of their own, so concurrent
clients never read each other's answers. It is synchronous (scripts and the CLI are); a
manager nudges it when a task it waits on ends, so a wait costs no polling interval.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .._exceptions import ClientTimeout, ConfigError, ManagerGone, TaskNotFound
from ..broker import (
    Broker,
    BrokerURL,
    Control,
    OutboxAdapter,
    Output,
    Reply,
    Result,
    TaskEvent,
    TaskSpec,
    WorkerRecord,
)
from ..broker import names as q
from ..broker._changes import Changes
from ..broker._taskspec import first_error
from ..manager import _receipts, _registry
from ..manager._nudge import CONTROL, SPAWN, Waiter, poke
from ._tasks import TaskInfo, log_of, managers_of, tasks_of

__all__ = ["Client"]

_POLL = 0.1  # the longest a nudged wait goes without also looking at the broker


class Client:
    """A connection to one broker. Use as a context manager, or call :meth:`close`."""

    def __init__(self, broker: str | os.PathLike[str] | BrokerURL | None = None) -> None:
        self.broker = Broker(broker)
        self.url = self.broker.url
        self._changes: Changes | None = None
        self._waiter: Waiter | None = Waiter() if self.url.local else None
        self._notified: set[int] = set()  # tasks that nudge this client when they end

    # -- submitting -----------------------------------------------------------------------

    def spec(self, **fields: Any) -> TaskSpec:
        """A validated TaskSpec with a fresh TID (not submitted)."""
        if "tid" not in fields:  # (setdefault would mint one, a transaction, regardless)
            fields["tid"] = self.broker.timestamp()
        if self._waiter is not None:
            fields.setdefault("notify", self._waiter.address)
        return TaskSpec.build(**fields)

    def submit(self, argv: Sequence[str] | None = None, **fields: Any) -> TaskSpec:
        """Queue one task: ``submit(["echo", "hi"])``, ``submit(function="m:f", args=[1])``."""
        if argv is not None:
            fields["argv"] = tuple(argv)
        return self.submit_many([fields])[0]

    def submit_many(self, tasks: Iterable[Mapping[str, Any] | TaskSpec]) -> list[TaskSpec]:
        """Queue many tasks in one transaction. A task without a TID gets its request's
        message ID, minted in that transaction (minting each beforehand would cost a
        commit per task)."""
        items = list(tasks)
        fresh = [t for t in items if not isinstance(t, TaskSpec) and "tid" not in t]
        if len(fresh) < len(items):
            specs = [t if isinstance(t, TaskSpec) else self.spec(**t) for t in items]
            self.broker.insert(q.SPAWN, [(s, s.tid) for s in specs])
        else:
            drafts = [self.spec(**{**t, "tid": 1}) for t in fresh]  # validated before writing
            ids = self.broker.write_many([(q.SPAWN, _under(d)) for d in drafts])
            specs = [d.model_copy(update={"tid": tid}) for d, tid in zip(drafts, ids, strict=True)]
        if self._waiter is not None:
            self._notified.update(s.tid for s in specs if s.notify == self._waiter.address)
        self._nudge_managers()
        return specs

    def submit_request(self, fields: Mapping[str, Any], request: str) -> TaskSpec:
        """Queue a task first offered to the local manager as ``request``, which did not
        answer in time (:mod:`treadle._wire`): it is written with the request's receipt,
        unless the manager accepted it meanwhile; either way, the spec under the TID the
        task has (never two tasks for one request)."""
        spec = self.spec(**fields)
        try:
            tid = _receipts.record(self.broker, request, spec.tid, [(q.SPAWN, spec, spec.tid)])
        except _receipts.Collision:  # no manager can ever accept that request: plain write
            self.broker.insert(q.SPAWN, [(spec, spec.tid)])
            tid = spec.tid
        if tid != spec.tid:
            return spec.model_copy(update={"tid": tid})
        if self._waiter is not None and spec.notify == self._waiter.address:
            self._notified.add(spec.tid)
        self._nudge_managers()
        return spec

    def _nudge_managers(self, kind: bytes = SPAWN) -> None:
        if not self.url.local:
            return
        for record in _registry.alive(self.broker):
            if record.socket:
                poke(record.socket, kind)

    # -- results --------------------------------------------------------------------------

    def outbox(self, tid: int) -> list[Output | Result]:
        """What the task's outbox holds now: its output so far, and its result once it
        has ended (never blocks)."""
        out: list[Output | Result] = []
        after: int | None = None
        while batch := self.broker.peek(q.outbox(tid), OutboxAdapter.validate_json, after=after):
            out.extend(message for message, _ in batch)
            after = batch[-1][1]
        return out

    def result(self, tid: int) -> Result | None:
        """The task's result if it has ended, else None (never blocks)."""
        after: int | None = None  # read up to the result, not once more past it
        while batch := self.broker.peek(q.outbox(tid), OutboxAdapter.validate_json, after=after):
            for message, _ in batch:
                if isinstance(message, Result):
                    return message
            after = batch[-1][1]
        return None

    def wait(self, tid: int, timeout: float | None = None) -> Result:
        """Block until the task ends; its result (``ok`` says whether it completed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (result := self.result(tid)) is None:
            self._pause(deadline, f"task {tid} did not end within {timeout}s", tid)
        return result

    def follow(self, tid: int, timeout: float | None = None) -> Iterator[Output | Result]:
        """Yield the task's output as it comes, then its result."""
        deadline = None if timeout is None else time.monotonic() + timeout
        after: int | None = None
        while True:
            batch = self.broker.peek(q.outbox(tid), OutboxAdapter.validate_json, after=after)
            for message, mid in batch:
                after = mid
                yield message
                if isinstance(message, Result):
                    return
            if not batch:
                self._pause(deadline, f"task {tid} did not end within {timeout}s", tid)

    def _pause(self, deadline: float | None, why: str, tid: int | None = None) -> None:
        """Wait for a change: a nudge for a task this client submitted, else the broker's
        change detection."""
        remaining = _POLL if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            raise ClientTimeout(why)
        if self._waiter is not None and tid in self._notified:
            self._waiter.wait(min(remaining, _POLL))
        else:
            if self._changes is None:
                self._changes = Changes(self.broker)
            self._changes.wait(min(remaining, 1.0))

    def inbox(self, tid: int) -> str | None:
        """Take the next message from a task's inbox (what a task reads)."""
        got = self.broker.take(q.inbox(tid))
        return None if got is None else got[0]

    # -- control --------------------------------------------------------------------------

    def control(
        self,
        tid: int,
        op: str,
        timeout: float = 5.0,
        *,
        target: str | None = None,
        args: Mapping[str, Any] | None = None,
    ) -> Reply:
        """Send a control request (STOP, PAUSE, RESUME, PING, STATUS; to a manager that
        hosts a project, with a ``target`` child, also START, RESTART, SCALE, RELOAD and
        DUMP) to a task or a manager; its reply. It comes on a queue of this call's own
        (``T{tid}.ctrl_out.TOKEN``), deleted once read; a reply that comes too late is
        deleted by a manager's tidying (:mod:`treadle.manager._tidy`)."""
        token = secrets.token_hex(6)
        reply_to = f"{q.ctrl_out(tid)}.{token}"
        try:
            control = Control.model_validate(
                {
                    "op": op.upper(),
                    "request_id": token,
                    "reply_to": reply_to,
                    "target": target,
                    "args": dict(args or {}),
                }
            )
        except ValidationError as exc:
            raise ConfigError(*first_error(exc)) from None
        asked = self.broker.write(q.ctrl_in(tid), control)
        self._nudge_managers(CONTROL)
        deadline = time.monotonic() + timeout
        here: WorkerRecord | None = None  # a local manager to watch, looked up once waiting
        waited = False
        while (got := self.broker.claim(reply_to, Reply.model_validate_json)) is None:
            if here is not None and not _registry.process_alive(here):
                self.broker.delete(q.ctrl_in(tid), asked)  # nobody will read it
                raise ManagerGone(f"manager {tid} (pid {here.pid}) exited before it replied")
            self._pause(deadline, f"no reply from {tid} to {op} within {timeout}s")
            if not waited:  # a reply that comes at once costs no registry read
                here, waited = self._manager_here(tid), True
        self.broker.delete(reply_to, got[1])  # a claimed message stays, and its queue: gone
        return got[0]

    def _manager_here(self, tid: int) -> WorkerRecord | None:
        """Manager ``tid``'s record if it is an active manager on this host (whose
        process can be watched while its reply is awaited), else None."""
        record = _registry.latest(self.broker).get(tid)
        if record is None or record[0].status != "active" or record[0].host != _registry.HOST:
            return None
        return record[0]

    def ping(self, tid: int, timeout: float = 5.0) -> bool:
        return self.control(tid, "PING", timeout).reply == "PONG"

    def stop(self, tid: int, timeout: float = 5.0) -> Reply:
        return self.control(tid, "STOP", timeout)

    def pause(self, tid: int, timeout: float = 5.0) -> Reply:
        return self.control(tid, "PAUSE", timeout)

    def resume(self, tid: int, timeout: float = 5.0) -> Reply:
        return self.control(tid, "RESUME", timeout)

    def status(self, tid: int, timeout: float = 5.0) -> dict[str, Any]:
        return self.control(tid, "STATUS", timeout).status or {}

    # -- listing --------------------------------------------------------------------------

    def events(self, tid: int | None = None) -> list[TaskEvent]:
        """The task log (of one task, or all), oldest first."""
        return log_of(self.broker, tid)

    def tasks(self) -> list[TaskInfo]:
        """Every task the broker knows: queued ones, ones a manager reserved and has not
        started yet, and what the log says of the rest."""
        return tasks_of(self.broker)

    def task(self, tid: int) -> TaskInfo:
        for info in self.tasks():
            if info.tid == tid:
                return info
        raise TaskNotFound(f"no task {tid} in {self.url}")

    def managers(self, *, everything: bool = False) -> list[WorkerRecord]:
        """Managers in the registry: alive ones, or ``everything`` (stopped and dead too)."""
        return managers_of(self.broker, everything=everything)

    def hosting(self, project: str | Path, host: str = _registry.HOST) -> WorkerRecord | None:
        """The alive manager that hosts ``project`` (its file) on ``host``, if any: a
        project runs once per host (as compose's), in as many hosts as a fleet has."""
        for record in self.managers():
            if record.project == str(project) and record.host == host:
                return record
        return None

    # -- managers -------------------------------------------------------------------------

    def start_manager(
        self,
        *,
        idle_timeout: float | None = None,
        max_tasks: int | None = None,
        capabilities: Sequence[str] = (),
        heartbeat: float | None = None,
        lease: float | None = None,
        output_limit: int | None = None,
        workers: int | None = None,
        max_tasks_per_worker: int | None = None,
        max_memory_per_worker: int | None = None,
        timeout: float = 30.0,
    ) -> tuple[WorkerRecord, subprocess.Popen[bytes]]:
        """Start a manager process in the background; returns once it is registered.

        ``workers``, ``max_tasks_per_worker`` and ``max_memory_per_worker`` (bytes) size
        and recycle its warm workers for function tasks (see :class:`~treadle.Manager`).

        Its output goes to ``managers/manager-{tid}.log`` beside the broker file. It
        runs in its own session, so it outlives this process.
        """
        tid = self.broker.timestamp()
        argv = [sys.executable, "-m", "treadle.manager", "--broker", self.url.location]
        argv += ["--tid", str(tid)]
        if idle_timeout is not None:
            argv += ["--idle-timeout", str(idle_timeout)]
        if max_tasks is not None:
            argv += ["--max-tasks", str(max_tasks)]
        if heartbeat is not None:
            argv += ["--heartbeat", str(heartbeat)]
        for capability in capabilities:
            argv += ["--capability", capability]
        if lease is not None:
            argv += ["--lease", str(lease)]
        if output_limit is not None:
            argv += ["--output-limit", str(output_limit)]
        for flag, value in (
            ("--workers", workers),
            ("--max-tasks-per-worker", max_tasks_per_worker),
            ("--max-memory-per-worker", max_memory_per_worker),
        ):
            if value is not None:
                argv += [flag, str(value)]
        return self.launch(argv, tid, timeout=timeout)

    def launch(
        self, argv: Sequence[str], tid: int, *, timeout: float = 30.0
    ) -> tuple[WorkerRecord, subprocess.Popen[bytes]]:
        """Start ``argv``, a command that runs manager ``tid`` of this broker, in the
        background (its own session, so it outlives this process); return once it is
        registered. Its output goes to ``managers/manager-{tid}.log`` beside the broker file.
        """
        proc = self.background(argv, tid)
        try:
            record = self.wait_manager(tid, timeout, proc)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        return record, proc

    def background(self, argv: Sequence[str], tid: int) -> subprocess.Popen[bytes]:
        """Start ``argv`` (manager ``tid``) in a session of its own, so that it outlives
        this process, its output appended to ``managers/manager-{tid}.log``; at once."""
        path = _registry.log_path(self.url.state_dir, tid)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(path, "ab") as log:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # it outlives this process
                close_fds=True,
            )

    def wait_manager(
        self, tid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None
    ) -> WorkerRecord:
        """Block until manager ``tid`` is registered active."""
        deadline = time.monotonic() + timeout
        while True:
            got = _registry.latest(self.broker).get(tid)
            if got is not None and got[0].status == "active":
                return got[0]
            if proc is not None and proc.poll() is not None:
                raise TaskNotFound(f"manager {tid} exited ({proc.returncode}) before registering")
            self._pause(deadline, f"manager {tid} did not register within {timeout}s")

    def stop_manager(self, tid: int, timeout: float = 30.0) -> WorkerRecord:
        """Ask manager ``tid`` to stop; block until its record says it has (or died)."""
        record, reason = self._manager_record(tid)
        if record.status == "active" and reason is None:
            self.control(tid, "STOP", timeout=min(timeout, 5.0))
        deadline = time.monotonic() + timeout
        while (got := self._manager_record(tid))[0].status == "active":
            record, reason = got
            if reason is not None:
                return record.model_copy(update={"status": "dead", "reason": reason})
            self._pause(deadline, f"manager {tid} did not stop within {timeout}s")
        return got[0]

    def _manager_record(self, tid: int) -> tuple[WorkerRecord, str | None]:
        got = _registry.liveness(self.broker).get(tid)
        if got is None:
            raise TaskNotFound(f"no manager {tid} in {self.url}")
        return got[0], got[2]

    def ensure_manager(self, timeout: float = 30.0) -> WorkerRecord:
        """An alive manager's record, starting one if there is none."""
        alive = _registry.alive(self.broker)
        if alive:
            return alive[0]
        return self.start_manager(timeout=timeout)[0]

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        if self._changes is not None:
            self._changes.close()
        if self._waiter is not None:
            self._waiter.close()
        self.broker.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client {self.url}>"


def _under(draft: TaskSpec) -> Callable[[int], TaskSpec]:
    """The spec ``draft`` under the TID it is written with (its message ID)."""
    return lambda tid: draft.model_copy(update={"tid": tid})
