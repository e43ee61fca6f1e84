"""Control of a manager and its tasks: STOP, PAUSE, RESUME, PING, STATUS.

Owns reading ``T{tid}.ctrl_in`` for the manager and each task it runs, acting on each
request, and answering on ``reply_to`` (default ``T{tid}.ctrl_out``). A request that fails
validation is dead-lettered by the broker layer; one that cannot be honoured (PAUSE of a
stopped task, say) is answered with ``ok: false`` and the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._exceptions import TreadleError
from ..broker import Broker, Control, Reply, TaskEvent
from ..broker import names as q
from ._hosted import HOSTED_OPS

if TYPE_CHECKING:
    from ._manager import Manager

__all__ = ["check"]


async def check(manager: Manager, tasks: bool) -> None:
    """Read the pending control requests of the manager (and, with ``tasks``, of every
    task it runs: one read each), and answer them."""
    tids = [manager.tid, *manager.runners] if tasks else [manager.tid]
    requests = await manager.ab.call(_read, manager.ab.broker, tids)
    if not requests:
        return
    out: list[tuple[str, Reply | TaskEvent]] = []
    for tid, control in requests:
        if tid == manager.tid and (control.target is not None or control.op in HOSTED_OPS):
            reply, event = await _hosted_op(manager, control), None
        else:
            reply, event = _handle(manager, tid, control)
        out.append((control.reply_to or q.ctrl_out(tid), reply))
        if event is not None:
            out.append((q.TASK_LOG, event))
    await manager.ab.call(_write, manager.ab.broker, out)


async def _hosted_op(manager: Manager, control: Control) -> Reply:
    base: dict[str, Any] = {"tid": manager.tid, "op": control.op, "request_id": control.request_id}
    hosted = manager.hosted
    if hosted is None:
        return Reply(**base, ok=False, error=f"manager {manager.tid} hosts no project")
    try:
        reply, data = await hosted.control(control.op, control.target, control.args)
    except TreadleError as exc:  # an unknown child, a pool scaled past its bounds...
        return Reply(**base, ok=False, error=str(exc))
    return Reply(**base, ok=True, reply=reply, status=data)


def _read(broker: Broker, tids: list[int]) -> list[tuple[int, Control]]:
    got: list[tuple[int, Control]] = []
    for tid in tids:
        queue = q.ctrl_in(tid)
        if not broker.has_pending(queue):  # a read; a claim would be a write transaction
            continue
        while (claimed := broker.claim(queue, Control.model_validate_json)) is not None:
            got.append((tid, claimed[0]))
    return got


def _write(broker: Broker, out: list[tuple[str, Reply | TaskEvent]]) -> None:
    broker.write_many(out)


def _handle(manager: Manager, tid: int, control: Control) -> tuple[Reply, TaskEvent | None]:
    op = control.op
    base: dict[str, Any] = {"tid": tid, "op": op, "request_id": control.request_id}
    if op == "PING":
        return Reply(**base, ok=True, reply="PONG"), None
    try:
        if tid == manager.tid:
            return _manager_op(manager, base), None
        return _task_op(manager, tid, base)
    except TreadleError as exc:  # e.g. PAUSE of a task that is not running
        return Reply(**base, ok=False, error=str(exc)), None


def _manager_op(manager: Manager, base: dict[str, Any]) -> Reply:
    op = base["op"]
    if op == "STATUS":
        return Reply(
            **base,
            ok=True,
            reply="paused" if manager.paused else "running",
            status=manager.status(),
        )
    if op == "STOP":
        manager.request_stop()
        return Reply(**base, ok=True, reply="stopping")
    if op == "PAUSE":
        manager.pause()
        return Reply(**base, ok=True, reply="paused")
    manager.resume()
    return Reply(**base, ok=True, reply="running")


def _task_op(manager: Manager, tid: int, base: dict[str, Any]) -> tuple[Reply, TaskEvent | None]:
    op = base["op"]
    runner, _ = manager.runners[tid]
    tasks = manager.running
    state = tasks.state(runner.name)
    if op == "STATUS":
        status = {**runner.status(), "state": str(state), "manager": manager.tid}
        return Reply(**base, ok=True, reply=str(state), status=status), None
    if op == "STOP":
        runner.request_stop()
        return Reply(**base, ok=True, reply="stopping"), None
    if op == "PAUSE":
        tasks.pause(runner.name)
        event = TaskEvent(tid=tid, event="paused", name=runner.spec.label, manager=manager.tid)
    else:
        tasks.resume(runner.name)
        event = TaskEvent(tid=tid, event="resumed", name=runner.spec.label, manager=manager.tid)
    return Reply(**base, ok=True, reply=str(tasks.state(runner.name))), event
