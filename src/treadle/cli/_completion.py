"""``treadle completion``: the shell script that makes Tab complete treadle's commands.

Owns choosing the shell (the argument, else ``$SHELL``) and printing click's script for
it. The script calls ``treadle`` back with ``_TREADLE_COMPLETE`` set; click answers that
in ``main()`` before parsing anything, which ``treadle._main`` reaches for every command
line but a plain ``treadle run ... -- CMD`` (and a completion request is never one).
"""

from __future__ import annotations

import os
from typing import Final

import click
from click.shell_completion import get_completion_class

from ._app import Exit

__all__ = ["COMPLETE_VAR", "SHELLS", "completion"]

PROG: Final = "treadle"
COMPLETE_VAR: Final = "_TREADLE_COMPLETE"
SHELLS: Final = ("bash", "zsh", "fish")


@click.command(short_help="Print the shell completion script.")
@click.argument("shell", required=False, type=click.Choice(SHELLS))
def completion(shell: str | None) -> int:
    """Print the shell completion script for treadle (SHELL: default from $SHELL).

    Tab then completes commands, options, and arguments such as the child names of
    `treadle logs`. Load it from your shell's start-up file:

    \b
    Examples:
      eval "$(treadle completion bash)"      in ~/.bashrc (bash 4.4 or later)
      eval "$(treadle completion zsh)"       in ~/.zshrc (after compinit)
      treadle completion fish > ~/.config/fish/completions/treadle.fish
      treadle completion bash > ~/.treadle-complete.bash   then source that file
                                             from ~/.bashrc: a faster start-up
    """
    chosen = shell or _from_environment()
    cls = get_completion_class(chosen)
    assert cls is not None  # click has a class for each of SHELLS
    root = click.get_current_context().find_root().command
    click.echo(cls(root, {}, PROG, COMPLETE_VAR).source())
    return Exit.OK


def _from_environment() -> str:
    login = os.environ.get("SHELL", "")
    name = os.path.basename(login)
    if name not in SHELLS:
        raise click.UsageError(
            f"cannot tell the shell from $SHELL={login!r}: give one of {', '.join(SHELLS)}"
        )
    return name
