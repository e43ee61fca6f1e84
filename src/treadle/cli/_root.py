"""The root of the command line: the ``treadle`` group and every command under it."""

from __future__ import annotations

import click

from .. import __version__
from .._exceptions import TreadleError
from ._app import EPILOG, Exit, exit_code
from ._cache import cache
from ._check import check
from ._completion import completion
from ._logs import logs
from ._queue import queue
from ._run import run
from ._steer import COMMANDS as STEER
from ._task import task
from ._top import top
from ._up import down, up
from ._worker import worker

__all__ = ["cli", "main_group"]


@click.group(
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
    except TreadleError as exc:
        click.echo(f"treadle: {exc}", err=True)
        return exit_code(exc)
    return int(result) if isinstance(result, int) else Exit.OK


for command in (up, down, *STEER, logs, top, check, run, task, worker, queue, cache, completion):
    main_group.add_command(command)
main_group.add_command(STEER[0], name="ps")  # status
