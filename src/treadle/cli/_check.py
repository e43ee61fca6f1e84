"""``treadle check``: a project validated, its tree built and not run.

Owns the command: load the project file (or a Procfile), build its Supervisor tree so
that every loop target is imported and every spec checked, then list the children (a
table, or JSON), or say what is wrong where (``file:line:col: field: message``) and
exit 2. What is valid is :mod:`treadle.project`'s.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._exceptions import ConfigError, TreadleError
from ._app import Exit, json_option
from ._output import emit_json, errors, print_table

if TYPE_CHECKING:  # the project layer (pydantic) is loaded when the command runs
    from ..project import ChildInfo, LoopConfig, ProcessConfig, ProjectConfig, SupervisorConfig

__all__ = ["check"]


@click.command(short_help="Check the project file without running it.")
@click.option(
    "--procfile",
    type=click.Path(path_type=Path),
    help="Check this Procfile (or the one in this directory) instead of treadle.toml.",
)
@click.option("--profile", "profiles", multiple=True, metavar="NAME", help="Select a profile.")
@json_option
def check(procfile: Path | None, profiles: tuple[str, ...], as_json: bool) -> int:
    """Check the project without running it: every key and every loop's import.

    The project file is the treadle.toml (or pyproject.toml with [tool.treadle]) of the
    current directory or the nearest one above it.

    \b
    Examples:
      treadle check                      the project here: its children, or the error
      treadle check --profile worker     with the children of profile "worker"
      treadle check --procfile Procfile  a Procfile instead
      treadle check --json               {"ok": true, "file": ..., "children": [...]}
    """
    from ..project import build_tree

    try:
        # A user's module may print when imported: keep stdout for the answer.
        with contextlib.redirect_stdout(sys.stderr):
            config = _load(procfile, profiles)
            build_tree(config, profiles=profiles)
    except TreadleError as exc:
        if as_json:
            emit_json({"ok": False, "error": _error(exc)})
        else:
            errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return Exit.USAGE
    children = config.children(profiles or None)
    rows = [_child(config, info) for info in children.values()]
    if as_json:
        emit_json({"ok": True, "file": str(config.path), "project": config.name, "children": rows})
        return Exit.OK
    print_table(
        ("NAME", "KIND", "SUPERVISOR", "REPLICAS", "DEPENDS ON", "PROFILES", "RUNS"),
        (
            (
                r["name"],
                r["kind"],
                r["supervisor"],
                r["replicas"],
                ", ".join(r["depends_on"]),
                ", ".join(r["profiles"]),
                r["runs"],
            )
            for r in rows
        ),
        title="children",
    )
    declared = len(config.loops) + len(config.processes) + len(config.supervisors)
    left_out = declared - len(children)
    more = f" ({left_out} left out: in profiles not selected)" if left_out else ""
    errors.print(
        f"ok: {len(children)} children in {config.path}{more}", markup=False, soft_wrap=True
    )
    return Exit.OK


def _load(procfile: Path | None, profiles: tuple[str, ...]) -> ProjectConfig:
    from ..project import load_procfile, load_project

    if procfile is not None:
        return load_procfile(procfile)
    return load_project(profiles=profiles)


def _child(config: ProjectConfig, info: ChildInfo) -> dict[str, Any]:
    from ..project import SupervisorConfig

    c = info.config
    return {
        "name": info.name,
        "kind": info.kind,
        "supervisor": info.parent or config.name,
        "replicas": None if isinstance(c, SupervisorConfig) else c.replicas,
        "depends_on": list(c.depends_on),
        "profiles": list(c.profiles),
        "runs": _runs(c),
    }


def _runs(c: LoopConfig | ProcessConfig | SupervisorConfig) -> str:
    """What the child runs, in a few words: the loop's target, the command, the children."""
    from ..project import LoopConfig, SupervisorConfig

    if isinstance(c, LoopConfig):
        return str(c.target)
    if isinstance(c, SupervisorConfig):
        return f"{c.strategy.value}: {', '.join(c.children)}"
    if c.function is not None:
        return str(c.function)
    command = c.command
    return command if isinstance(command, str) else shlex.join(command or ())


def _error(exc: TreadleError) -> dict[str, Any]:
    if not isinstance(exc, ConfigError):
        return {"message": str(exc)}
    return {
        "file": exc.file,
        "line": exc.line,
        "column": exc.column,
        "field": exc.field,
        "message": exc.message,
        "suggestion": exc.suggestion,
    }
