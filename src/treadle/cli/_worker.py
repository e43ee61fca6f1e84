"""``treadle worker start|stop|list|status``: the managers of a broker."""

from __future__ import annotations

import time

import click

from .._exceptions import TaskNotFound
from ..broker import WorkerRecord
from ._app import Exit, broker_option, json_option, session
from ._output import age, console, emit_json, errors, print_table, since

__all__ = ["worker"]


@click.group()
def worker() -> None:
    """Start, stop and list managers (the processes that run tasks).

    \b
    Examples:
      treadle worker start --capability gpu
      treadle worker list --all
    """


@worker.command()
@click.option("--idle-timeout", type=float, help="Leave after this many idle seconds.")
@click.option("--max-tasks", type=int, default=32, show_default=True, help="Tasks at once.")
@click.option("--capability", multiple=True, help="A capability it offers (repeatable).")
@click.option("--heartbeat", type=float, default=2.0, show_default=True, help="Seconds.")
@click.option(
    "--output-limit",
    type=click.IntRange(min=0),
    default=4 * 1024 * 1024,
    show_default=True,
    help="Bytes of a task's output kept in the broker (all of it goes to its log file).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Warm workers for function tasks  [default: the core count]",
)
@click.option(
    "--max-tasks-per-worker", type=click.IntRange(min=1), help="Replace a worker after N tasks."
)
@click.option(
    "--max-memory-per-worker",
    type=click.IntRange(min=1),
    help="Replace a worker above this many bytes of RSS after a task.",
)
@click.option("--foreground", is_flag=True, help="Run here until Ctrl-C instead.")
@json_option
@broker_option
def start(
    idle_timeout: float | None,
    max_tasks: int,
    capability: tuple[str, ...],
    heartbeat: float,
    output_limit: int,
    workers: int | None,
    max_tasks_per_worker: int | None,
    max_memory_per_worker: int | None,
    foreground: bool,
    as_json: bool,
    broker: str | None,
) -> int:
    """Start a manager in the background; print its TID and PID once it is registered.

    \b
    Examples:
      treadle worker start --capability gpu --max-tasks 4
      treadle worker start --foreground --idle-timeout 60
    """
    if foreground:
        from ..manager import Manager
        from ..supervisor import run

        manager = Manager(
            broker,
            idle_timeout=idle_timeout,
            capabilities=capability,
            max_tasks=max_tasks,
            heartbeat=heartbeat,
            output_limit=output_limit,
            workers=workers,
            max_tasks_per_worker=max_tasks_per_worker,
            max_memory_per_worker=max_memory_per_worker,
        )
        return run(manager)
    client = session(broker, as_json).client
    record, proc = client.start_manager(
        idle_timeout=idle_timeout,
        max_tasks=max_tasks,
        capabilities=capability,
        heartbeat=heartbeat,
        output_limit=output_limit,
        workers=workers,
        max_tasks_per_worker=max_tasks_per_worker,
        max_memory_per_worker=max_memory_per_worker,
    )
    if as_json:
        emit_json(record.model_dump(mode="json"))
    else:
        console.print(f"manager {record.tid} started (pid {proc.pid})")
    return Exit.OK


@worker.command()
@click.argument("tids", nargs=-1, type=int)
@click.option("--all", "everyone", is_flag=True, help="Stop every alive manager.")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@broker_option
def stop(tids: tuple[int, ...], everyone: bool, timeout: float, broker: str | None) -> int:
    """Stop managers gracefully: each stops its tasks, reports them, and leaves.

    \b
    Examples:
      treadle worker stop 1796154486334631936
      treadle worker stop --all
    """
    client = session(broker).client
    if everyone:
        tids = tuple(r.tid for r in client.managers())
    elif not tids:
        raise click.UsageError("name the managers to stop (TIDs), or --all")
    for tid in tids:
        record = client.stop_manager(tid, timeout=timeout)
        console.print(f"manager {tid} {record.status}")
    return Exit.OK


@worker.command(name="list")
@click.option("-a", "--all", "everything", is_flag=True, help="Also stopped and dead ones.")
@json_option
@broker_option
def list_(everything: bool, as_json: bool, broker: str | None) -> int:
    """The managers of this broker: host, load, heartbeat age.

    \b
    Examples:
      treadle worker list
      treadle worker list --all --json     stopped and dead ones too
    """
    records = session(broker, as_json).client.managers(everything=everything)
    if as_json:
        emit_json([r.model_dump(mode="json") for r in records])
        return Exit.OK
    now = time.time()
    print_table(
        (
            *("TID", "STATE", "PID", "HOST", "TASKS", "CAPABILITIES"),
            *("LEADER", "UP", "HEARTBEAT", "REASON"),
        ),
        (_row(r, now) for r in records),
        title="managers",
    )
    return Exit.OK


def _row(r: WorkerRecord, now: float) -> tuple[object, ...]:
    return (
        r.tid,
        r.status,
        r.pid,
        r.host,
        r.tasks,
        ",".join(r.capabilities),
        "yes" if r.leader and r.status == "active" else "",
        age(r.started_at, now) if r.status == "active" else "",
        age(r.heartbeat_at, now) + " ago",
        r.reason,
    )


@worker.command()
@click.argument("tid", type=int)
@click.option("--timeout", type=float, default=5.0, show_default=True)
@json_option
@broker_option
def status(tid: int, timeout: float, as_json: bool, broker: str | None) -> int:
    """One manager, asked directly: its state and the tasks it runs.

    \b
    Examples:
      treadle worker status 1796154486334631936
    """
    client = session(broker, as_json).client
    if not any(r.tid == tid for r in client.managers(everything=True)):
        raise TaskNotFound(f"no manager {tid} in {client.url}")
    info = client.status(tid, timeout=timeout)
    if as_json:
        emit_json(info)
        return Exit.OK
    state = "paused" if info.get("paused") else "running"
    console.print(f"manager {tid}: {state}, pid {info.get('pid')}, broker {info.get('broker')}")
    console.print(f"  up {since(time.time() - float(info.get('started_at') or 0))}")
    console.print(f"  capabilities: {', '.join(info.get('capabilities') or []) or '-'}")
    tasks = info.get("tasks") or []
    if not tasks:
        errors.print("[dim](no tasks running)[/]")
        return Exit.OK
    print_table(
        ("TID", "NAME", "KIND", "STATE", "PID", "ATTEMPT"),
        (
            (
                t["tid"],
                t["name"],
                t["kind"],
                "paused" if t.get("paused") else "running",
                (t.get("target") or {}).get("pid"),
                t["attempt"],
            )
            for t in tasks
        ),
        title="tasks",
    )
    return Exit.OK
