"""Procfiles, as foreman and honcho read them: :func:`load_procfile`.

Owns the format: one ``name: command`` a line, ``#`` comments and blank lines skipped.
Each command is a shell command line, run through ``/bin/sh -c`` in the Procfile's
directory, so ``$PORT`` and friends are the shell's to expand (treadle does no
``${VAR}`` interpolation here). The ``.env`` beside the Procfile is read as for
treadle.toml: its values reach every process, under the real environment. The result
is an ordinary :class:`ProjectConfig`: one process child per line, no profiles.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from .._exceptions import ConfigError
from ._config import ProjectConfig
from ._errors import Problem, Source, read_text
from ._load import resolve_broker, with_dotenv
from ._locate import KeyPath, Locator
from ._schema import ProcessConfig, ProjectFile
from ._validate import check

__all__ = ["load_procfile"]

PROCFILE: Final = "Procfile"
_LINE: Final = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]*)[ \t]*:[ \t]*(.*?)\s*")


def load_procfile(path: Path | str, *, environ: Mapping[str, str] | None = None) -> ProjectConfig:
    """A project with one shell-command process per Procfile line.

    Args:
        path: the Procfile, or the directory holding one.
        environ: the environment the ``.env`` values yield to (default ``os.environ``).

    Raises:
        ConfigError: a malformed line or a name used twice, with the file and line.
    """
    file = Path(path)
    file = (file / PROCFILE if file.is_dir() else file).resolve()
    text = read_text(file, "procfile")
    positions: dict[KeyPath, tuple[int, int]] = {}
    processes: dict[str, ProcessConfig] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        indent = len(line) - len(line.lstrip()) + 1
        if match is None:
            raise ConfigError(
                "procfile",
                "expected 'name: command' (a name is letters, digits, '_' and '-')",
                file=str(file),
                line=number,
                column=indent,
            )
        name, command = match.group(1), match.group(2)
        if name in processes:
            first = positions[("processes", name)][0]
            raise ConfigError(
                name, f"already defined on line {first}", file=str(file), line=number, column=1
            )
        if not command:
            raise ConfigError(
                name, "no command after the ':'", file=str(file), line=number, column=indent
            )
        positions[("processes", name)] = (number, 1)
        positions[("processes", name, "command")] = (number, match.start(2) + 1)
        processes[name] = ProcessConfig(command=command, shell=True)
    source = Source(file, Locator(positions))
    project = ProjectFile(processes=processes)
    found: list[Problem] = check(project)
    if found:
        raise source.first(found)
    return ProjectConfig(
        path=file,
        root=file.parent,
        name=file.parent.name,
        broker=resolve_broker(None, file.parent),
        file=project,
        dotenv=with_dotenv(file.parent, environ),
        order=tuple(processes),
        source=source,
    )
