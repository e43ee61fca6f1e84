"""The root of the command line: the ``treadle`` group and every command under it."""

from __future__ import annotations

import importlib

import click

from .. import __version__
from ._app import EPILOG, Exit, expected_failure

__all__ = ["COMMANDS", "cli", "main_group"]

# Each command's module is imported only when that command runs (its help one line here),
# so that `treadle --help` and shell completion do not load the broker and the project.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "up": ("_up", "up", "Run the project: every loop and process, supervised."),
    "down": ("_up", "down", "Stop the project: its children, then its manager."),
    "status": ("_steer", "status", "The project's children: state, pid, restarts, health..."),
    "ps": ("_steer", "status", "The same as status."),
    "restart": ("_steer", "restart", "Restart children now (no backoff)."),
    "pause": ("_steer", "pause", "Pause children (a process: SIGSTOP; a loop: between runs)."),
    "resume": ("_steer", "resume", "Resume paused children."),
    "stop": ("_steer", "stop", "Stop children and keep them stopped."),
    "start": ("_steer", "start", "Start children stopped with `treadle stop`."),
    "scale": ("_steer", "scale", "Run N instances of a pool."),
    "reload": ("_steer", "reload", "Apply the edited project file: new, gone, changed."),
    "dump": ("_steer", "dump", "Everything for debugging, as JSON: stacks, errors, waits."),
    "logs": ("_logs", "logs", "The children's output and lifecycle, merged in time order."),
    "top": ("_top", "top", "A live view of the children: states, resources, rates."),
    "check": ("_check", "check", "Check the project file without running it."),
    "run": ("_run", "run", "Run a command or a function as a task."),
    "task": ("_task", "task", "Inspect and control tasks by TID."),
    "worker": ("_worker", "worker", "Start, stop and list managers."),
    "queue": ("_queue", "queue", "Look at the broker's queues (nothing is consumed)."),
    "cache": ("_cache", "cache", "The cache of downloaded artifacts."),
    "completion": ("_completion", "completion", "Print the shell completion script."),
    "import": ("_import", "import_", "Write a treadle.toml from a supervisord or PM2 config."),
    "startup": ("_startup", "startup", "Start the project at boot: a systemd unit, enabled."),
}


class _Lazy(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = COMMANDS.get(cmd_name)
        if found is None:
            return None
        module, attr, _ = found
        command = getattr(importlib.import_module(f"treadle.cli.{module}"), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, _, short) in COMMANDS.items()])


@click.group(
    cls=_Lazy,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="treadle")
def main_group() -> None:
    """treadle keeps long-running work alive: loops, tasks and processes, supervised.

    \b
    Examples:
      treadle run --wait -- python train.py     run a task, stream its output
      treadle task list                          what ran, what runs
      treadle worker list                        the managers and their load
    """


def cli(args: list[str]) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    try:
        result = main_group.main(args, prog_name="treadle", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return Exit.INTERRUPTED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except Exception as exc:  # the command line's boundary: one line, not a traceback
        failure = expected_failure(exc)
        if failure is None:
            raise  # a bug: its traceback is the report
        click.echo(f"treadle: {failure[0]}", err=True)
        return failure[1]
    return int(result) if isinstance(result, int) else Exit.OK
