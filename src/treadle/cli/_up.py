"""``treadle up`` and ``treadle down``: a project's whole lifetime.

``up`` runs the project's tree inside a manager (so that every other command reaches it
through the broker): in the foreground, printing every child's output as it comes,
until Ctrl-C (a second Ctrl-C forces); or, with ``-d``, in a background process that this
command starts and waits for. Either says it is up only once it is: its loops imported,
its dashboard's port bound; else it fails with the one line that says why (a taken port:
exit 2, at ``dashboard.port``). ``down`` asks that manager to stop, and waits until it has.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click
from rich.markup import escape

from .._exceptions import TaskNotFound, TreadleError
from ..broker import resolve
from ..client import Client
from ..manager import Manager
from ..manager._registry import log_path as manager_log
from ..project import ProjectRuntime
from ..supervisor import run_coroutine, serve
from ._app import Exit
from ._output import console, errors
from ._projects import project, project_options

__all__ = ["down", "up"]


@click.command()
@click.option("-d", "--detach", is_flag=True, help="Run in the background and return.")
@click.option("--profile", "profiles", multiple=True, help="Also run this profile's children.")
@click.option("--no-logs", is_flag=True, help="In the foreground, do not print output.")
@click.option("--no-dashboard", is_flag=True, help="Do not serve [dashboard] even if enabled.")
@click.option(
    "--force-download", is_flag=True, help="Download the artifacts it runs again, into the cache."
)
@click.option("--tid", type=int, hidden=True)  # the manager TID a detaching `up` minted
@project_options
def up(
    detach: bool,
    profiles: tuple[str, ...],
    no_logs: bool,
    no_dashboard: bool,
    force_download: bool,
    tid: int | None,
    file: Path | None,
    procfile: Path | None,
    broker: str | None,
) -> int:
    """Run the project: every loop and process its file declares, supervised.

    It says it is up only once it is: every loop target imported, the dashboard's port
    bound. A port already taken is one line and exit status 2: set another `port`
    under [dashboard] in the project file, or use --no-dashboard.

    \b
    Examples:
      treadle up                       in the foreground; Ctrl-C stops it gracefully
      treadle up -d                    in the background (then: status, logs, down)
      treadle up --profile worker      also the children of profile "worker"
      treadle up --procfile Procfile   a Procfile's processes
      treadle up --force-download      fetch (and verify) its artifacts again first
    """
    runtime = ProjectRuntime(file, procfile=procfile, profiles=profiles)  # ConfigError: 2
    p = project(runtime.config.path, procfile, broker, strict=True)
    running = p.manager()
    if running is not None:
        raise TreadleError(
            f"{p.name} is already up: manager {running.tid} (pid {running.pid} on "
            f"{running.host}); `treadle down` first"
        )
    if force_download:
        runtime.config.download_artifacts()
    runtime.tree()  # import every loop target now: a bad one fails before anything runs
    if detach:
        return _detach(p.client, runtime, profiles, procfile, no_dashboard)
    manager = Manager(resolve(p.broker), tid=tid, hosted=runtime)
    board = runtime.config.dashboard
    if board.enabled and not no_dashboard:
        from ..web import Dashboard

        dashboard = Dashboard.of(manager, runtime)
        dashboard.bind()  # a taken port: ConfigError (exit 2), before anything runs
        manager.services.append(dashboard)
        errors.print(f"[bold]{runtime.name}[/]: dashboard on {dashboard.url}")
    runtime.start_logging()
    try:
        main = _foreground(manager, runtime, show_logs=not no_logs)
        code = run_coroutine(main, loop=runtime.config.supervisor.event_loop)
    finally:
        runtime.stop_logging()
    if manager.fenced:  # its broker thread may be stuck on a database out of reach
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


async def _foreground(manager: Manager, runtime: ProjectRuntime, *, show_logs: bool) -> int:
    printer = None
    if show_logs:
        from ._logview import follow_to_console  # the same lines `treadle logs -f` prints

        as_json = runtime.config.logging.format == "json"
        printer = asyncio.create_task(follow_to_console(runtime.log_dir, as_json=as_json))
    errors.print(f"[bold]{runtime.name}[/]: up ({runtime.source}); Ctrl-C stops it")
    try:
        await serve(manager)
    except TreadleError as exc:
        errors.print(f"[red]{escape(runtime.name)}: {escape(str(exc))}[/]", soft_wrap=True)
        return Exit.FAILED
    except asyncio.CancelledError:  # a second signal: forced
        return Exit.INTERRUPTED
    finally:
        if printer is not None:
            printer.cancel()
            await asyncio.gather(printer, return_exceptions=True)
    errors.print(f"[bold]{runtime.name}[/]: down")
    return Exit.OK


def _detach(
    client: Client,
    runtime: ProjectRuntime,
    profiles: tuple[str, ...],
    procfile: Path | None,
    no_dashboard: bool,
) -> int:
    """Start ``up`` again in a process of its own (the manager) and wait until it is up:
    registered, which it is only once its tree is built and its dashboard's port bound.
    A manager that ends before that has said why on its last line: that line, its status."""
    tid = client.broker.timestamp()
    argv = [sys.executable, "-m", "treadle", "up", "--no-logs", "--tid", str(tid)]
    argv += ["--broker", client.url.location]
    argv += ["--procfile", str(procfile)] if procfile else ["--file", runtime.source]
    for profile in profiles:
        argv += ["--profile", profile]
    if no_dashboard:
        argv.append("--no-dashboard")
    log = manager_log(client.url.state_dir, tid)
    proc = client.background(argv, tid)
    try:
        record = client.wait_manager(tid, 60.0, proc)
    except TaskNotFound:  # it ended before it was up
        code = proc.wait()
        said = _last_line(log) or f"treadle: {runtime.name} did not start (see {log})"
        errors.print(said, markup=False, highlight=False, soft_wrap=True)
        return code if 0 < code < 128 else Exit.FAILED
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    board = runtime.config.dashboard
    if board.enabled and not no_dashboard:
        url = f"http://{board.host}:{board.port}/"
        console.print(f"{runtime.name}: dashboard on {url}", markup=False)
    console.print(
        f"{runtime.name}: logs: `treadle logs -f`, files in {runtime.log_dir} "
        f"(the manager's: {log})",
        markup=False,
        soft_wrap=True,
    )
    console.print(f"{runtime.name}: up in the background (manager {record.tid}, pid {proc.pid})")
    return Exit.OK


def _last_line(path: Path) -> str:
    """The last line of a log (what a manager that failed to start said last)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line for line in reversed(lines) if line.strip()), "")


@click.command()
@click.option("--timeout", type=float, default=60.0, show_default=True)
@project_options
def down(timeout: float, file: Path | None, procfile: Path | None, broker: str | None) -> int:
    """Stop the project: every child stopped gracefully, then its manager.

    \b
    Examples:
      treadle down
      treadle down -f ../shop/treadle.toml
    """
    p = project(file, procfile, broker)
    record = p.manager()
    if record is None:
        errors.print(f"{p.name} is not up")
        return Exit.OK
    final = p.client.stop_manager(record.tid, timeout=timeout)
    console.print(f"{p.name}: {final.status}")
    return Exit.OK
