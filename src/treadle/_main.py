"""The ``treadle`` console command: a fast path for ``treadle run``, else the full CLI.

``treadle run [--wait] [--name N] [--broker B] -- CMD ...`` is the command people and
scripts run most, often in a loop, so it must cost little more than starting Python: when
its arguments are that simple and a manager serves the broker's submit address on this
host, it hands the task over with the standard library alone (:mod:`treadle._wire`) and
never imports click, rich, pydantic or simplebroker. When nobody serves that address, it
starts the manager first (:mod:`treadle._autostart`), still without loading it here.
Anything else (another option, a PostgreSQL broker, a manager alive that does not serve
the address, a task the local manager queues for another) goes to the click application
in :mod:`treadle.cli`, which does the same through the broker.
Once the task was sent, a manager that does not answer at once (frozen, stopping, a
broken connection) does not make it depend on it: the task goes to the queue under the
same request ID, written once whoever is first (:mod:`treadle._wire`).
"""

from __future__ import annotations

import os
import sys

from . import _paths, _wire

__all__ = ["main", "report_end", "stream_submission", "write_output"]

_FAST_FLAGS = {"--wait": "wait", "-w": "wait"}
_FAST_OPTIONS = {"--name": "name", "-n": "name", "--broker": "broker"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        code = _fast_run(args[1:])
        if code is not None:
            return code
    elif args[:1] == ["down"]:
        from ._down import fast_down

        code = fast_down(args[1:])
        if code is not None:
            return code
    from .cli import cli  # the full command line

    return cli(args)


def _parse(args: list[str]) -> tuple[dict[str, str], list[str]] | None:
    """The options and command of a simple ``run``, or None for anything else."""
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            command = args[i + 1 :]
            return (options, command) if command else None
        key, eq, value = arg.partition("=")
        if arg in _FAST_FLAGS:
            options[_FAST_FLAGS[arg]] = "1"
        elif key in _FAST_OPTIONS and eq:
            options[_FAST_OPTIONS[key]] = value
        elif arg in _FAST_OPTIONS and i + 1 < len(args):
            i += 1
            options[_FAST_OPTIONS[arg]] = args[i]
        else:
            return None
        i += 1
    return None


def _fast_run(args: list[str]) -> int | None:
    """Run the task through the local manager; None when the full CLI must do it."""
    parsed = _parse(args)
    if parsed is None:
        return None
    options, command = parsed
    location = _paths.sqlite_path(_paths.broker_spec(options.get("broker")))
    if location is None or not os.path.exists(location):
        return None
    wait = "wait" in options
    fields: dict[str, object] = {"argv": command}
    if "name" in options:
        fields["name"] = options["name"]
    address = _paths.submit_address(location)
    if address is None:
        return None  # no private place for the socket: no manager serves one
    submission: _wire.Submission | None
    try:
        submission = _wire.Submission(address)
    except (FileNotFoundError, ConnectionRefusedError):  # nobody serves it: start one
        from ._autostart import NotUp

        try:
            submission = _started(location)
        except NotUp as exc:
            print(f"treadle run: {exc}", file=sys.stderr)
            return 4  # cli._app.Exit.TIMEOUT
        except KeyboardInterrupt:
            return 130
    except OSError:
        return None  # not this user's manager, or no answer: the full CLI says why
    if submission is None:
        return None
    request = _wire.new_request()
    with submission:
        try:
            accepted = submission.submit(fields, wait, request)
        except _wire.Refused as exc:
            print(f"treadle run: {exc}", file=sys.stderr)
            return 2
        except OSError:  # sent, but not taken at once: the queue, under the same ID
            submission.close()
            return _queue_instead(location, fields, request, wait)
        if not wait:
            print(accepted["tid"])
            return 0
        if accepted["queued"]:
            return _follow_elsewhere(int(accepted["tid"]), location)
        return stream_submission(submission)


def _started(location: str) -> _wire.Submission | None:
    """Start a manager (:mod:`treadle._autostart`) and connect to it; None when it is
    not there to take the task (another manager is alive, or it failed to start)."""
    from . import _autostart

    started = _autostart.start(location)
    if started is None:
        return None
    print(f"treadle: started manager {started[0]} (pid {started[1]})", file=sys.stderr)
    address = _paths.submit_address(location)
    try:
        return None if address is None else _wire.Submission(address)
    except OSError:
        return None  # it is up, yet another holds the address: the queue, then


def write_output(stream: str, lines: list[str]) -> None:
    out = sys.stdout if stream == "stdout" else sys.stderr
    out.write("".join(line + "\n" for line in lines))
    out.flush()


def report_end(result: dict[str, object]) -> None:
    """Print a function's return value (as JSON), and say why a task failed when its exit
    status alone does not (a signal, a timeout, an exception in a function)."""
    if result.get("value") is not None:
        print(_wire.dumps(result["value"]).decode())
    code = result.get("exit_code")
    if (
        result.get("state") != "completed"
        and result.get("error")
        and not (isinstance(code, int) and code > 0)
    ):
        print(f"treadle run: {result['error']}", file=sys.stderr)


def stream_submission(submission: _wire.Submission) -> int:
    """Print what the local manager streams until the task ends; its exit status.

    Ctrl-C asks the manager to stop the task and goes on printing until it has; a second
    Ctrl-C leaves at once (the task ends by itself, its result in its outbox).
    """
    stopping = False
    while True:
        try:
            for message in submission.messages():
                if message.get("kind") == "output":
                    write_output(str(message.get("stream")), message["lines"])
                elif message.get("kind") == "result":
                    report_end(message)
                    return _wire.exit_status(message)
            print("treadle run: the manager went away before the task ended", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            if stopping:
                return 130
            stopping = True
            print("treadle run: stopping the task (Ctrl-C again to leave it)", file=sys.stderr)
            submission.stop()


def _queue_instead(location: str, fields: dict[str, object], request: str, wait: bool) -> int:
    """Write the task to the queue under ``request`` (the local manager did not take it
    at once); failures as the full command line reports them: one line, an exit code."""
    from .cli._app import expected_failure
    from .cli._run import queue_request

    try:
        return queue_request(location, fields, request, wait)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the command line's boundary: one line, not a traceback
        failure = expected_failure(exc)
        if failure is None:
            raise
        print(f"treadle run: {failure[0]}", file=sys.stderr)
        return int(failure[1])


def _follow_elsewhere(tid: int, location: str) -> int:
    """The local manager queued the task for another: wait through the broker."""
    from .cli._run import follow_task

    return follow_task(location, tid)
