"""``treadle task list|status|log|stop|pause|resume|ping``: tasks by TID."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime

import click

from .._exceptions import TreadleError
from .._main import write_output
from ..client import Client, TaskInfo
from ._app import Exit, broker_option, json_option, session
from ._output import age, console, emit_json, print_table
from ._run import follow_task

__all__ = ["task"]


@click.group()
def task() -> None:
    """Inspect and control tasks by TID (also works on managers).

    \b
    Examples:
      treadle task list --state failed
      treadle task log -f 1796154487088705536
    """


@task.command(name="list")
@click.option("--state", help="Only tasks in this state (queued, running, failed, ...).")
@click.option("-n", "--limit", type=int, default=50, show_default=True, help="The newest N.")
@json_option
@broker_option
def list_(state: str | None, limit: int, as_json: bool, broker: str | None) -> int:
    """Every task the broker knows, newest last: queued, running and ended ones.

    \b
    Examples:
      treadle task list
      treadle task list --state running -n 10 --json
    """
    tasks = session(broker, as_json).client.tasks()
    if state:
        tasks = [t for t in tasks if t.state == state]
    tasks = tasks[-limit:] if limit > 0 else tasks
    if as_json:
        emit_json([_info(t) for t in tasks])
        return Exit.OK
    now = time.time()
    print_table(
        ("TID", "NAME", "STATE", "MANAGER", "PID", "ATTEMPT", "EXIT", "SUBMITTED", "REASON"),
        (
            (
                t.tid,
                t.name,
                t.state,
                t.manager,
                t.pid,
                t.attempt or "",
                t.exit_code,
                age(t.submitted_at, now) + " ago",
                t.reason,
            )
            for t in tasks
        ),
        title="tasks",
    )
    return Exit.OK


@task.command()
@click.argument("tid", type=int)
@json_option
@broker_option
def status(tid: int, as_json: bool, broker: str | None) -> int:
    """What the log says of a task, and, while it runs, what its manager says.

    \b
    Examples:
      treadle task status 1796154487088705536
      treadle task status 1796154487088705536 --json | jq .result.exit_code
    """
    client = session(broker, as_json).client
    info = client.task(tid)
    live = client.status(tid) if info.state in ("running", "paused") else None
    result = client.result(tid)
    if as_json:
        emit_json(
            {
                **_info(info),
                "live": live,
                "result": None if result is None else result.model_dump(mode="json"),
            }
        )
        return Exit.OK
    console.print(f"task {tid} [bold]{info.name}[/]: {info.state}")
    console.print(f"  submitted {_clock(info.submitted_at)}, manager {info.manager or '-'}")
    if info.pid:
        console.print(f"  pid {info.pid}, attempt {info.attempt}")
    if live is not None:
        target = live.get("target") or {}
        for key in ("rss", "cpu_percent", "uptime"):
            if key in target:
                console.print(f"  {key}: {target[key]}")
    if result is not None:
        exit_code = "" if result.exit_code is None else f", exit {result.exit_code}"
        console.print(f"  ended {result.state}{exit_code} after {result.duration:.3f}s")
        if result.error:
            console.print(f"  [red]{result.error}[/]")
    return Exit.OK


@task.command()
@click.argument("tid", type=int)
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the task ends.")
@json_option
@broker_option
def log(tid: int, follow: bool, as_json: bool, broker: str | None) -> int:
    """A task's lifecycle events, then its output (stdout and stderr).

    \b
    Examples:
      treadle task log 1796154487088705536
      treadle task log -f 1796154487088705536     until it ends
    """
    client = session(broker, as_json).client
    client.task(tid)  # TaskNotFound for a TID nobody knows
    events = client.events(tid)
    if as_json:
        emit_json([e.model_dump(mode="json") for e in events])
        return Exit.OK
    for e in events:
        what = " ".join(
            f"{k}={v}"
            for k, v in (("pid", e.pid), ("attempt", e.attempt or None), ("exit", e.exit_code))
            if v is not None
        )
        reason = f" ({e.reason})" if e.reason else ""
        console.print(f"[dim]{_clock(e.at)}[/] {e.event:<9} {what}{reason}")
    if follow:
        return follow_task(client, tid)
    for message in client.outbox(tid):
        if message.kind == "output":
            write_output(message.stream, message.lines)
    return Exit.OK


def _control(op: str, doc: str) -> click.Command:
    word = op.lower()
    examples = (
        "\b\nExamples:\n"
        f"  treadle task {word} 1796154487088705536\n"
        f'  treadle task {word} "$(treadle run -- ./job.sh)" --json'
    )

    @click.command(name=word, help=f"{doc}\n\n{examples}")
    @click.argument("tid", type=int)
    @click.option("--timeout", type=float, default=5.0, show_default=True)
    @json_option
    @broker_option
    def command(tid: int, timeout: float, as_json: bool, broker: str | None) -> int:
        client = session(broker, as_json).client
        _check_alive(client, tid, op)
        reply = client.control(tid, op, timeout)
        if as_json:
            emit_json(reply.model_dump(mode="json"))
        elif reply.ok:
            console.print(f"{tid}: {reply.reply}")
        else:
            console.print(f"{tid}: [red]{reply.error}[/]")
        return Exit.OK if reply.ok else Exit.FAILED

    return command


def _check_alive(client: Client, tid: int, op: str) -> None:
    """Refuse at once what no manager will answer: a task that has ended."""
    if any(r.tid == tid for r in client.managers(everything=True)):
        return
    info = client.task(tid)
    if info.ended:
        raise TreadleError(f"task {tid} has ended ({info.state}): nothing to {op.lower()}")


for _op, _doc in (
    ("STOP", "Stop a task (its process gets SIGTERM, then SIGKILL)."),
    ("PAUSE", "Pause a task (SIGSTOP for a process)."),
    ("RESUME", "Resume a paused task."),
    ("PING", "Check that a task's manager answers for it (PONG)."),
):
    task.add_command(_control(_op, _doc))


def _info(t: TaskInfo) -> dict[str, object]:
    return dataclasses.asdict(t)


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"
