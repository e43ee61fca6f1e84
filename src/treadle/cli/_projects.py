"""Which project a command means, and the manager that runs it.

Owns the options every project command shares (``-f/--file``, ``--procfile``,
``--broker``), finding the project file (the cwd and up), its broker (the option, else the
file's ``broker``, else ``.treadle/broker.db`` beside it), and the alive manager whose
registry record says it hosts that file. A file that no longer validates still names its
project: ``treadle down`` must work on a project whose file was just broken.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape

from .._exceptions import ConfigError, TreadleError
from .._paths import sqlite_path
from ..broker import Reply, WorkerRecord
from ..client import Client
from ..project import ProjectConfig, find_project, load_procfile, load_project
from ._app import broker_option, session
from ._output import errors

__all__ = ["NotUp", "Project", "project", "project_options"]

F = TypeVar("F", bound=Callable[..., Any])


class NotUp(TreadleError):
    """The project has no manager running it."""


def project_options(fn: F) -> F:
    fn = click.option(
        "-f",
        "--file",
        "file",
        type=click.Path(exists=True, path_type=Path),
        help="The project file (default: treadle.toml or pyproject.toml, here or above).",
    )(fn)
    fn = click.option(
        "--procfile",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Run a Procfile instead.",
    )(fn)
    return broker_option(fn)


class Project:
    """A project file, its broker and (when it is up) its manager."""

    def __init__(self, source: Path, broker: str, client: Client, config: ProjectConfig | None):
        self.source = source
        self.broker = broker
        self.client = client
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name if self.config is not None else self.source.parent.name

    @property
    def root(self) -> Path:
        return self.source.parent

    def manager(self) -> WorkerRecord | None:
        """The alive manager that hosts this project on this host, if any (a fleet runs
        one on each host, as compose does)."""
        return self.client.hosting(self.source)

    def require(self) -> WorkerRecord:
        record = self.manager()
        if record is None:
            raise NotUp(f"{self.name} is not up ({self.source}): start it with `treadle up`")
        return record

    def control(
        self,
        op: str,
        target: str | None = None,
        args: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        """Ask the project's manager; a refusal is an error carrying its reason."""
        reply = self.client.control(self.require().tid, op, timeout, target=target, args=args or {})
        if not reply.ok:
            raise TreadleError(reply.error or f"{op} refused")
        return reply


def project(
    file: Path | None,
    procfile: Path | None,
    broker: str | None,
    *,
    strict: bool = False,
    warn: bool = True,
) -> Project:
    """The project the options name. ``strict``: its file must validate (else the error
    is raised); otherwise a broken file still names the project, with a warning (unless
    not ``warn``: the manager will say the same, as ``reload``'s refusal)."""
    config: ProjectConfig | None = None
    try:
        config = load_procfile(procfile) if procfile is not None else load_project(file)
        source = config.path
    except ConfigError as exc:
        if strict:
            raise
        source = procfile.resolve() if procfile is not None else _locate(file)
        if warn:
            errors.print(f"[yellow]warning:[/] {escape(str(exc))}", soft_wrap=True)
    location = broker or (config.broker if config is not None else None)
    if location is None:
        location = sqlite_path(str(source.parent / ".treadle" / "broker.db"))
    assert location is not None
    return Project(source, location, session(location).client, config)


def _locate(file: Path | None) -> Path:
    if file is not None and file.is_file():
        return file.resolve()
    return find_project(file)
