"""``treadle run``: hand one task to a manager, and optionally wait for it.

Owns the options that make a TaskSpec from a command line, starting a manager in the
background when none is alive, offering the task to the local manager and queueing it
under the same request ID when that manager does not answer at once (never twice: see
:mod:`treadle._wire`), and following a task to its end through the broker (the local
manager's stream is :mod:`treadle._main`'s, which this shares).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .. import _paths, _wire
from .._autostart import AUTOSTART_IDLE
from .._exceptions import ConfigError
from .._main import report_end, stream_submission, write_output
from ..broker import TaskSpec
from ..client import Client
from ._app import Exit, broker_option, json_option, session
from ._output import emit_json, errors

__all__ = ["AUTOSTART_IDLE", "follow_task", "queue_request", "run"]


@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-w", "--wait", is_flag=True, help="Wait, print its output, exit with its status.")
@click.option("-n", "--name", default="", help="A name for the task.")
@click.option("--fn", "function", metavar="MODULE:FUNC", help="Run a Python function instead.")
@click.option("--loop", metavar="MODULE:CLASS", help="Run a treadle Loop inside the manager.")
@click.option("--args", "args_json", metavar="JSON", help="Arguments for --fn/--loop (JSON).")
@click.option("-e", "--env", multiple=True, metavar="KEY=VALUE", help="Set a variable.")
@click.option("--cwd", type=click.Path(file_okay=False), help="The working directory.")
@click.option("--shell", is_flag=True, help="Run COMMAND through /bin/sh -c.")
@click.option("--timeout", type=float, help="Seconds an attempt may run.")
@click.option("--memory", type=int, help="Bytes of memory an attempt may use.")
@click.option(
    "--isolation",
    type=click.Choice(["worker", "process"]),
    default="worker",
    help="--fn: on a warm worker, or in a fresh interpreter of its own.",
)
@click.option("--restart", type=click.Choice(["never", "on-failure", "always"]), default="never")
@click.option("--retries", type=int, default=0, help="Attempts after the first (on-failure).")
@click.option("--capability", multiple=True, help="A capability the manager must offer.")
@click.option("--inbox", metavar="JSON|TEXT", help="A first message for the task's inbox.")
@json_option
@broker_option
def run(
    command: tuple[str, ...],
    wait: bool,
    name: str,
    function: str | None,
    loop: str | None,
    args_json: str | None,
    env: tuple[str, ...],
    cwd: str | None,
    shell: bool,
    timeout: float | None,
    memory: int | None,
    isolation: str,
    restart: str,
    retries: int,
    capability: tuple[str, ...],
    inbox: str | None,
    as_json: bool,
    broker: str | None,
) -> int:
    """Run COMMAND (after --) as a task; a manager is started when none is alive.

    \b
    Examples:
      treadle run -- ./backup.sh                  queue it, print its TID
      treadle run --wait -- make test             stream its output, exit with its status
      treadle run --fn app.jobs:resize --args '[640, 480]' --wait
      treadle run --restart on-failure --retries 3 --timeout 60 -- ./flaky
    """
    if bool(command) + bool(function) + bool(loop) != 1:
        raise click.UsageError("give a COMMAND after --, or --fn, or --loop (one of them)")
    fields: dict[str, Any] = {
        "name": name,
        "env": _env(env),
        "restart": restart,
        "retries": retries,
        "shell": shell,
        "capabilities": list(capability),
    }
    fields.update({"argv": list(command)} if command else {"function": function, "loop": loop})
    if args_json is not None:
        fields["args"] = _json_arg("--args", args_json)
    if inbox is not None:
        fields["inbox"] = _json_or_text(inbox)
    if cwd is not None:
        fields["cwd"] = cwd
    if isolation != "worker":
        fields["isolation"] = isolation
    limits = {k: v for k, v in (("timeout", timeout), ("memory", memory)) if v is not None}
    if limits:
        fields["limits"] = limits
    TaskSpec.build(tid=1, **fields)  # a bad option fails here, before a manager starts
    s = session(broker, as_json)
    client = s.client
    _ensure_manager(client)
    tid, submission = _submit(client, fields, wait and not as_json)
    if submission is not None:
        with submission:
            return stream_submission(submission)
    if not wait:
        if as_json:
            emit_json({"tid": tid})
        else:
            print(tid)
        return Exit.OK
    if as_json:
        result = client.wait(tid)
        emit_json(result.model_dump(mode="json"))
        return _wire.exit_status(result.model_dump())
    return follow_task(client, tid)


def _ensure_manager(client: Client) -> None:
    if client.url.local and not client.managers():
        record, proc = client.start_manager(idle_timeout=AUTOSTART_IDLE)
        errors.print(f"treadle: started manager {record.tid} (pid {proc.pid})")


def _submit(
    client: Client, fields: dict[str, Any], stream: bool
) -> tuple[int, _wire.Submission | None]:
    """Offer the task to the local manager if one serves the broker, else queue it; when
    that manager does not answer at once, queue it under the same request ID.

    Returns the TID, and the open submission when its output comes that way.
    """
    address = _paths.submit_address(client.url.location) if client.url.local else None
    if address is not None:
        try:
            submission = _wire.Submission(address)
        except OSError:  # none serves it, or another user's process does: nothing sent
            submission = None
        if submission is not None:
            request = _wire.new_request()
            try:
                accepted = submission.submit(fields, stream, request)
            except _wire.Refused as exc:
                submission.close()
                field, _, message = str(exc).partition(": ")
                raise ConfigError(field, message or field) from None
            except OSError:  # no answer in time, a broken connection, not taken
                submission.close()
                return client.submit_request(fields, request).tid, None
            except BaseException:
                submission.close()
                raise
            if stream and not accepted["queued"]:
                return int(accepted["tid"]), submission
            submission.close()
            return int(accepted["tid"]), None
    return client.submit(**fields).tid, None


def queue_request(location: str, fields: dict[str, Any], request: str, wait: bool) -> int:
    """The fast path's way out (:mod:`treadle._main`): the local manager did not take
    ``request`` at once, so it goes on the queue under that ID; print its TID, or follow
    it when ``wait``. Its exit status."""
    with Client(location) as client:
        spec = client.submit_request(fields, request)
        _ensure_manager(client)
        if not wait:
            print(spec.tid)
            return Exit.OK
        return follow_task(client, spec.tid)


def follow_task(client: Client | str, tid: int) -> int:
    """Print a task's output through the broker until it ends; its exit status."""
    if isinstance(client, str):
        with Client(client) as own:
            return follow_task(own, tid)
    stopping = False
    while True:
        try:
            for message in client.follow(tid):
                if message.kind == "output":
                    write_output(message.stream, message.lines)
                else:
                    result = message.model_dump()
                    report_end(result)
                    return _wire.exit_status(result)
        except KeyboardInterrupt:
            if stopping:
                return Exit.INTERRUPTED
            stopping = True
            print("treadle run: stopping the task (Ctrl-C again to leave it)", file=sys.stderr)
            client.stop(tid)


def _env(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        out[key] = value
    return out


def _json_arg(option: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=option) from None


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
