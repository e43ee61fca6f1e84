"""Finding and loading a project file: :func:`find_project` and :func:`load_project`.

Owns the steps from a path to a :class:`ProjectConfig`: find the file (treadle.toml, or
pyproject.toml with a ``[tool.treadle]`` table), parse it with tomllib, read the ``.env``
file, interpolate every string (the real environment over the .env values), validate
the models, then the cross-table rules, then the selected profiles. Every failure is a
:class:`~treadle.ConfigError` with the file, line, column and field. The Procfile reader
is :mod:`._procfile`; what each rule says is :mod:`._schema`'s and :mod:`._validate`'s.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from .._exceptions import ConfigError
from .._paths import sqlite_path
from ._config import ProjectConfig
from ._dotenv import read_dotenv
from ._errors import Invalid, Problem, Source, problems, read_text
from ._interpolate import InterpolationError, interpolate, interpolate_tree
from ._layout import SECTIONS, child_configs
from ._locate import KeyPath, Locator
from ._schema import ProjectFile
from ._spelled import spelled
from ._validate import check, check_profiles

__all__ = [
    "find_project",
    "load_project",
    "parse_toml",
    "resolve_broker",
    "with_dotenv",
]

TREADLE_TOML: Final = "treadle.toml"
PYPROJECT: Final = "pyproject.toml"
DEFAULT_BROKER: Final = ".treadle/broker.db"
_PYPROJECT_PREFIX: Final[KeyPath] = ("tool", "treadle")
_TOML_POSITION: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def find_project(start: Path | None = None) -> Path:
    """The project file for ``start`` (default: the current directory) or the nearest
    directory above it: its treadle.toml, else its pyproject.toml if that has a
    ``[tool.treadle]`` table.

    Raises:
        ConfigError: there is none; the message lists the directories searched.
    """
    here = (start or Path.cwd()).resolve()
    if here.is_file():
        here = here.parent
    searched: list[str] = []
    for directory in (here, *here.parents):
        searched.append(str(directory))
        candidate = directory / TREADLE_TOML
        if candidate.is_file():
            return candidate
        candidate = directory / PYPROJECT
        if candidate.is_file() and _has_treadle_table(candidate):
            return candidate
    raise ConfigError(
        "project",
        f"no {TREADLE_TOML} (nor {PYPROJECT} with a [tool.treadle] table) in {', '.join(searched)}",
    )


def _has_treadle_table(path: Path) -> bool:
    text = read_text(path, "project")
    if "treadle" not in text:
        return False  # the cheap answer for most pyproject.toml files
    data = parse_toml(text, path)
    tool = data.get("tool")
    return isinstance(tool, dict) and "treadle" in tool


def load_project(
    path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    profiles: Sequence[str] = (),
) -> ProjectConfig:
    """Read, interpolate and validate a project.

    Args:
        path: the file, or a directory to search from (see :func:`find_project`);
            default: the current directory.
        environ: the environment for ``${VAR}`` (default ``os.environ``); it wins over
            the ``.env`` file's values.
        profiles: the profiles to select; children without profiles are always kept.

    Raises:
        ConfigError: with the file, line, column and dotted field of the first problem.
    """
    given = Path(path) if path is not None else None
    file = (given if given is not None and not given.is_dir() else find_project(given)).resolve()
    if not file.is_file():
        raise ConfigError("project", "no such file", file=str(file))
    text = read_text(file, "project")
    data: object = parse_toml(text, file)
    prefix: KeyPath = ()
    if file.name == PYPROJECT:
        prefix = _PYPROJECT_PREFIX
        tool = data.get("tool") if isinstance(data, dict) else None
        data = tool.get("treadle") if isinstance(tool, dict) else None
        if not isinstance(data, dict):
            raise ConfigError("tool.treadle", "no [tool.treadle] table", file=str(file))
    assert isinstance(data, dict)
    source = Source(file, Locator.scan(text), prefix)
    env = dict(os.environ if environ is None else environ)
    dotenv = _read_env_file(file.parent, data, env, source)
    try:
        data = interpolate_tree(data, {**dotenv, **env})
    except Invalid as exc:
        raise source.error(exc.problem) from None
    try:
        validated = ProjectFile.model_validate(data)
    except ValidationError as exc:
        raise source.first(problems(exc, data, ProjectFile)) from None
    found = check(validated) or check_profiles(validated, profiles)
    if found:
        raise source.first(found)
    return ProjectConfig(
        path=file,
        root=file.parent,
        name=validated.project.name or file.parent.name,
        broker=resolve_broker(validated.project.broker, file.parent),
        file=validated,
        dotenv={k: v for k, v in dotenv.items() if k not in env},
        profiles=tuple(profiles),
        order=_file_order(validated, source),
        source=source,
    )


def resolve_broker(broker: str | None, root: Path) -> str:
    """A broker URL as is; a path (default ``.treadle/broker.db``) made absolute."""
    if broker and "://" in broker:
        return broker
    location = sqlite_path(str(root / (broker or DEFAULT_BROKER)))
    assert location is not None
    return location  # spelled as every other client of this broker spells it


def with_dotenv(root: Path, environ: Mapping[str, str] | None) -> dict[str, str]:
    """The ``.env`` values in ``root`` (if there is one) that ``environ`` does not set."""
    env = os.environ if environ is None else environ
    path = root / ".env"
    found = read_dotenv(path) if path.is_file() else {}
    return {k: v for k, v in found.items() if k not in env}


def _read_env_file(
    root: Path, data: dict[str, object], env: Mapping[str, str], source: Source
) -> dict[str, str]:
    """The .env file's values: ``project.env_file`` (interpolated from the real environment
    alone, and required to exist), else ``.env`` if there is one."""
    project = data.get("project")
    raw = project.get("env_file") if isinstance(project, dict) else None
    at: KeyPath = ("project", "env_file")
    if raw is None:
        path = root / ".env"
        return read_dotenv(path) if path.is_file() else {}
    if not isinstance(raw, str):
        raise source.error(Problem(at, f"must be a path, got {spelled(raw)}"))
    try:
        path = root / interpolate(raw, env)
    except InterpolationError as exc:
        raise source.error(Problem(at, str(exc))) from None
    if not path.is_file():
        raise source.error(Problem(at, f"{path} does not exist"))
    return read_dotenv(path)


def _file_order(f: ProjectFile, source: Source) -> tuple[str, ...]:
    """Child names in the order the file declares them (across loops and processes)."""
    names = child_configs(f)

    def where(name: str) -> tuple[int, int]:
        return source.position((SECTIONS[names[name][0]], name)) or (0, 0)

    return tuple(sorted(names, key=where))


def parse_toml(text: str, path: Path) -> dict[str, object]:
    """TOML, or a ConfigError at the line and column tomllib names."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        if match is not None:
            line, column = int(match.group(1)), int(match.group(2))
        else:  # "(at end of document)"
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
        message = re.sub(r"\s*\(at [^)]*\)$", "", message)
        raise ConfigError(
            "syntax",
            f"invalid TOML: {message[:1].lower()}{message[1:]}",
            file=str(path),
            line=line,
            column=column,
        ) from None
