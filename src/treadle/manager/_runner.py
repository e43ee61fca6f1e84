"""One task of a manager's, as it runs it: :class:`TaskRunner`.

Owns a task's attempts: it builds what the :class:`~treadle.broker.TaskSpec` names (a
process, a ``module:function`` on one of its manager's warm workers (``_warm``) or in its
own interpreter, or a Loop in-process), has each attempt driven (``_attempt``: its start,
its "started" event, its timeout), turns how it ended into a result, retries by the
spec's restart policy with backoff, and hands every change to its :class:`Reporter`,
which turns them into broker writes. It never touches the broker itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .._backoff import Backoff, Jitter
from .._exceptions import (
    ProcessExited,
    ProcessLimitExceeded,
    SpawnError,
    describe_exit,
)
from .._runnable import Runnable
from ..broker import Result, TaskSpec
from ..broker._messages import EventKind
from ..broker._taskspec import MAX_RETRY_DELAY
from ..loop import Loop
from ..process import Process, ProcessSpec
from ..process._output import Output
from ._attempt import attempt, on_worker
from ._files import Files, returned_value
from ._journal import Journal
from ._output import OutputLimits, Tail
from ._pool import Pool
from ._warm import FunctionRaised, WorkerTask

__all__ = ["Reporter", "TaskRunner"]

_log = logging.getLogger("treadle.manager")
_DEFAULT_OUTPUT = OutputLimits()  # the default budgets, and no log file


class Reporter(Protocol):
    """What a runner tells its manager; the manager writes it to the broker."""

    async def starting(self, runner: TaskRunner) -> bool: ...

    async def started(self, runner: TaskRunner, attempt: int, pid: int | None) -> None: ...

    def started_soon(
        self, runner: TaskRunner, attempt: int, pid: int | None
    ) -> asyncio.Future[None]: ...

    async def event(self, runner: TaskRunner, kind: EventKind, **fields: Any) -> None: ...

    def output(self, runner: TaskRunner, stream: str, line: str) -> None: ...

    async def finished(self, runner: TaskRunner, result: Result) -> None: ...


class TaskRunner:
    """Runs ``spec`` until it completes, fails for good, or is stopped."""

    def __init__(
        self,
        spec: TaskSpec,
        reporter: Reporter,
        work_dir: Path,
        record_dir: str,
        output: OutputLimits = _DEFAULT_OUTPUT,
        pool: Pool | None = None,
        *,
        files: Files,
    ) -> None:
        self.spec = spec
        self._files = files  # where its result files are reserved and removed
        self._pool = pool  # warm workers for its function, unless it runs isolated
        self.output_limits = output
        self.reporter = reporter
        self._work_dir = work_dir
        self._record_dir = record_dir
        self._target: Process | WorkerTask | Loop | None = None
        self.stopping = False
        self._stop_event = asyncio.Event()
        self._tails = {"stdout": Tail(), "stderr": Tail()}
        self.attempt = 0
        self._work_text = str(work_dir)
        self._result: tuple[int, str] | None = None  # the last result file asked for
        self._processes: list[Process] = []  # its attempts', whose exits are journaled
        self._journaled: list[tuple[Journal, int]] = []  # its values in workers' journals
        self._files_written = False  # a value of its went to a result file (too large)
        self.paused = False
        self.started_at: float | None = None

    @property
    def name(self) -> str:
        return f"T{self.spec.tid}"

    @property
    def stop_grace(self) -> float:
        return self.spec.stop_timeout + 1.0

    # -- Runnable -------------------------------------------------------------------------

    async def run(self, started: Callable[[], None]) -> None:
        spec = self.spec
        begin = time.monotonic()
        backoff: Backoff | None = None  # made for a first retry (most tasks have none)
        result: Result | None = None
        try:
            while True:
                self.attempt += 1
                result = await self._attempt(started)
                if self.stopping:
                    result = result.model_copy(update={"state": "stopped"})
                    break
                again = spec.restart == "always" or (
                    spec.restart == "on-failure" and not result.ok and self.attempt <= spec.retries
                )
                if not again:
                    break
                if backoff is None:
                    backoff = Backoff(
                        initial=spec.retry_delay, max=MAX_RETRY_DELAY, jitter=Jitter.EQUAL
                    )
                delay = backoff.delay(self.attempt)
                reason = result.error or describe_exit(result.exit_code or 0)
                await self.reporter.event(
                    self, "retrying", attempt=self.attempt, reason=reason, backoff_s=delay
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stop_event.wait()
                if self.stopping:
                    break
        except asyncio.CancelledError:
            # the supervisor's patience ran out: still say how the task ended, then go
            result = Result(tid=spec.tid, state="stopped", error="cancelled")
            await self._finish(result, begin)
            raise
        if result is None or self.stopping:
            result = (result or Result(tid=spec.tid, state="stopped")).model_copy(
                update={"state": "stopped"}
            )
        await self._finish(result, begin)

    async def _finish(self, result: Result, begin: float) -> None:
        tails = self._tails
        final = result.model_copy(
            update={
                "attempts": self.attempt,
                "duration": round(time.monotonic() - begin, 6),
                "stdout": tails["stdout"].text(),
                "stderr": tails["stderr"].text(),
            }
        )
        await self.reporter.finished(self, final)  # shielded: written however long it takes

    def forget(self) -> None:
        """The task's result is durable: the exits its processes left in the spawner's
        journal (what recovery would read, had the manager died first) are not needed."""
        processes, self._processes = self._processes, []
        for process in processes:
            process.forget()
        journaled, self._journaled = self._journaled, []
        for journal, region in journaled:
            journal.durable(region)
        if self.spec.kind == "function" and (self._files_written or not journaled):
            self._files.remove([self._result_path(a) for a in range(1, self.attempt + 1)])

    def request_stop(self) -> None:
        self.stopping = True
        self._stop_event.set()
        if self._target is not None:
            self._target.request_stop()

    def pause(self) -> None:
        if self._target is not None:
            self._target.pause()
        self.paused = True

    def resume(self) -> None:
        if self._target is not None:
            self._target.resume()
        self.paused = False

    def status(self) -> dict[str, Any]:
        target = self._target
        info: dict[str, Any] = {
            "tid": self.spec.tid,
            "name": self.spec.label,
            "kind": self.spec.kind,
            "attempt": self.attempt,
            "paused": self.paused,
            "started_at": self.started_at,
            "spec": self.spec.redacted(),
        }
        if target is not None:
            info["target"] = target.status()
        return info

    # -- one attempt ----------------------------------------------------------------------

    async def _attempt(self, started: Callable[[], None]) -> Result:
        spec = self.spec
        # A function's result file is reserved while its "starting" mark is written (on
        # another thread, at the same time: the reservation is most often there once the
        # mark is, and the attempt goes on without waiting for it)
        # (on a warm worker, its value goes to the worker's journal instead: ``_journal``)
        own_file = spec.kind == "function" and not self._on_a_worker()
        reserving = self._files.reserve_soon(self._result_path()) if own_file else None
        if self.attempt == 1 and spec.restart == "never" and not await self.reporter.starting(self):
            if reserving is not None:
                self._files.remove([self._result_path()])  # (after the reservation: in order)
            return Result(tid=spec.tid, state="stopped", error="its manager lost its lease")
        if reserving is not None and not await self._room_for_its_value(reserving):
            return Result(tid=spec.tid, state="stopped", error="stopped before it started")
        try:
            target = self._build()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 (what cannot launch fails its task, not the manager)
            # SystemExit and KeyboardInterrupt included: a loop's module that calls
            # sys.exit() on import must not stop the manager and every other task.
            return Result(tid=spec.tid, state="failed", error=f"cannot launch: {_why(exc)}")
        self._target = target
        try:
            if isinstance(target, WorkerTask):
                return await on_worker(self, target, started)
            return await attempt(self, target, started)
        finally:
            self._target = None
            if isinstance(target, WorkerTask):
                if target.journaled is not None:
                    self._journaled.append(target.journaled)
                elif target.returned is not None:
                    self._files_written = True

    async def _room_for_its_value(self, reserving: asyncio.Future[bool]) -> bool:
        """Reserve the disk space of the function's return value before it starts (the
        first try: ``reserving``), waiting (while the disk is full) rather than running
        work whose result could not be kept; False if stopped meanwhile."""
        delay = 0.25
        while not await reserving:
            if delay == 0.25:
                _log.warning("task %s waits for disk space for its result", self.spec.tid)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop_event.wait()
            if self.stopping:
                return False
            delay = min(delay * 2, 5.0)
            reserving = self._files.reserve_soon(self._result_path())
        return True

    def outcome(
        self, target: Process | WorkerTask | Loop, exc: BaseException | None, timed_out: bool
    ) -> Result:
        tid = self.spec.tid
        code = target.returncode if isinstance(target, (Process, WorkerTask)) else None
        if timed_out:
            limit = self.spec.limits.timeout
            return Result(
                tid=tid, state="failed", exit_code=code, error=f"timed out after {limit}s"
            )
        if exc is None:
            return Result(tid=tid, state="completed", exit_code=code, value=self._value(target))
        if isinstance(exc, ProcessExited):
            why = describe_exit(exc.returncode)
            return Result(tid=tid, state="failed", exit_code=exc.returncode, error=why)
        if isinstance(exc, FunctionRaised):
            return Result(tid=tid, state="failed", exit_code=exc.returncode, error=str(exc))
        if isinstance(exc, (ProcessLimitExceeded, SpawnError)):
            return Result(tid=tid, state="failed", exit_code=code, error=str(exc))
        return Result(tid=tid, state="failed", error=f"{type(exc).__name__}: {exc}")

    def _value(self, target: Process | WorkerTask | Loop) -> Any:
        if self.spec.kind != "function":
            return None
        returned = target.returned if isinstance(target, WorkerTask) else None
        if returned is None:
            returned = returned_value(self._result_path())  # removed once durable (forget)
        return None if returned is None else returned[0]

    def _result_path(self, attempt: int | None = None) -> str:
        attempt = attempt or self.attempt
        if self._result is None or self._result[0] != attempt:  # asked thrice an attempt
            # result_path's, as text (a Path per task costs more than the rest of this)
            self._result = (attempt, f"{self._work_text}/{self.spec.tid}.{attempt}.json")
        return self._result[1]

    def _build(self) -> Process | WorkerTask | Loop:
        spec = self.spec
        if spec.kind == "loop":
            return _load_loop(spec)
        if self._on_a_worker():
            assert self._pool is not None
            return self._on_worker(self._pool)
        env = dict(spec.env)
        if spec.kind == "function":
            env["TREADLE_RESULT_FILE"] = str(self._result_path())
        pspec = ProcessSpec(
            argv=spec.argv or (),
            function=spec.function,
            args=spec.args,
            shell=spec.shell,
            name=self.name,
            env=env,
            cwd=spec.cwd,
            stop_timeout=spec.stop_timeout,
            memory_limit=spec.limits.memory,
            cpu_limit=spec.limits.cpu,
            record_dir=self._record_dir,
            keep_exit=True,  # until the result is durable: see forget()
            leased=True,  # another manager may run it once this one's lease is gone
            ring_lines=0,
            **self._log_file(),
        )
        process = pspec()
        self._processes.append(process)
        process.output.line_limit = self.output_limits.line_bytes
        tails, reporter = self._tails, self.reporter

        def on_line(stream: str, line: str) -> None:
            tails[stream].add(line)
            reporter.output(self, stream, line)

        process.output.listener = on_line
        return process

    def _on_a_worker(self) -> bool:
        return self.spec.kind == "function" and self._pool is not None and _warm(self.spec)

    def _on_worker(self, pool: Pool) -> WorkerTask:
        output = Output(0, self.output_limits.line_bytes)
        logs = self._log_file(make_dir=False)  # the Output makes it with its first line
        for stream in ("stdout", "stderr") if logs else ():
            output.to_file(stream, logs[stream], logs["log_max_bytes"], logs["log_backups"])
        tails, reporter = self._tails, self.reporter

        def on_line(stream: str, line: str) -> None:
            tails[stream].add(line)
            reporter.output(self, stream, line)

        output.listener = on_line
        return WorkerTask(pool, self.spec, self._result_path(), output, self.attempt)

    def _log_file(self, make_dir: bool = True) -> dict[str, Any]:
        limits = self.output_limits
        log_dir = limits.log_dir_text
        if log_dir is None:
            return {}
        # a stat: cheaper than mkdir failing each task
        if make_dir and not os.path.isdir(log_dir):
            os.makedirs(log_dir, mode=0o700, exist_ok=True)
        path = f"{log_dir}/T{self.spec.tid}.log"  # log_path's, as text (no Path a task)
        return {
            "stdout": path,
            "stderr": path,
            "log_max_bytes": limits.log_bytes,
            "log_backups": limits.log_backups,
        }

    def __repr__(self) -> str:
        return f"<TaskRunner {self.name} {self.spec.label!r} attempt={self.attempt}>"


def _warm(spec: TaskSpec) -> bool:
    """Whether a function task runs on a warm worker: unless it asks for a fresh
    interpreter, or has a memory or CPU limit (a process's: they would count the
    worker's other tasks, and outlive the task)."""
    return spec.isolation == "worker" and spec.limits.memory is None and spec.limits.cpu is None


def _why(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) raised while loading it"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _load_loop(spec: TaskSpec) -> Loop:
    assert spec.loop is not None
    module_name, _, attr = spec.loop.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, Loop)):
        raise TypeError(f"{spec.loop} is not a treadle.Loop subclass")
    factory: Callable[..., Loop] = obj
    args = spec.args
    instance = factory(**args) if isinstance(args, dict) else factory()
    assert isinstance(instance, Runnable)
    return instance
