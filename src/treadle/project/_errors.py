"""From what went wrong to a :class:`~treadle.ConfigError` that points into the file.

Owns :class:`Problem` (a key path, a plain message, maybe a suggested key), the internal
:class:`Invalid` that carries one out of pure code, :class:`Source` (which file, where its
keys are, and under which table the configuration sits) that turns a problem into a
ConfigError with file, line and column, and the translation of pydantic's errors into
problems. It owns no rule about what is valid.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .._exceptions import ConfigError
from ._locate import KeyPath, Locator
from ._spelled import spelled

__all__ = ["Invalid", "Problem", "Source", "closest", "dotted", "problems"]

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def read_text(path: Path, field: str) -> str:
    """A configuration file's text, or a ConfigError at ``field`` naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(field, f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(field, f"not UTF-8 text: {exc.reason}", file=str(path)) from None


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong, and at which key path (relative to the project's own table)."""

    path: KeyPath
    message: str
    suggestion: str | None = None


class Invalid(Exception):
    """Carries a :class:`Problem` out of code that knows no file."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``word``, if one is close enough to be a likely typo."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def dotted(path: KeyPath) -> str:
    """``processes.web.command[1]``; keys that are not bare are quoted, as TOML would."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else f'"{part}"'
            out += f".{key}" if out else key
    return out


@dataclass(frozen=True)
class Source:
    """A configuration file: where each key is, and the table the configuration is under
    (``("tool", "treadle")`` in pyproject.toml): reported fields are relative to it,
    lines and columns are the file's own."""

    file: Path
    locator: Locator
    prefix: KeyPath = ()

    def position(self, path: KeyPath) -> tuple[int, int] | None:
        return self.locator.locate((*self.prefix, *path))

    def error(self, problem: Problem) -> ConfigError:
        where = self.position(problem.path)
        return ConfigError(
            dotted(problem.path) or "(top level)",
            problem.message,
            file=str(self.file),
            line=where[0] if where else None,
            column=where[1] if where else None,
            suggestion=problem.suggestion,
        )

    def first(self, found: Iterable[Problem]) -> ConfigError:
        """The error for the problem that comes first in the file."""

        def order(p: Problem) -> tuple[int, int]:
            return self.position(p.path) or (0, 0)

        return self.error(min(found, key=order))


# -- pydantic ------------------------------------------------------------------------------


def problems(error: ValidationError, data: object, model: type[BaseModel]) -> list[Problem]:
    """Each of pydantic's errors as a problem at a key path that exists in ``data`` (the
    tags pydantic adds for union members and nested validators are dropped)."""
    out: list[Problem] = []
    for detail in error.errors(include_url=False):
        path = _real_path(detail, data)
        message, suggestion = _message(detail, path, model)
        out.append(Problem(path, message, suggestion))
    return out


def _real_path(detail: ErrorDetails, data: object) -> KeyPath:
    loc, node = detail["loc"], data
    path: list[str | int] = []
    for i, part in enumerate(loc):
        if _has(node, part):
            node = node[part]  # type: ignore[index]
        elif not (i == len(loc) - 1 and detail["type"] == "missing"):
            continue  # a tag pydantic added, not a key
        path.append(part)
    return tuple(path)


def _has(node: object, part: str | int) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


_SIMPLE: Final = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
}
_BOUNDS: Final = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def _message(detail: ErrorDetails, path: KeyPath, model: type[BaseModel]) -> tuple[str, str | None]:
    kind, ctx, given = detail["type"], detail.get("ctx") or {}, detail["input"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        guess = closest(key, _keys_at(model, path[:-1]))
        if guess is None and len(path) == 3 and path[0] == "loops":
            return (
                f"unknown key (the target's own arguments go in `options = {{ {key} = ... }}`)",
                None,
            )
        return "unknown key", guess
    if kind == "missing":
        return "required, but missing", None
    if kind in ("enum", "literal_error"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of {', '.join(choices)}; got {spelled(given)}", closest(
            str(given), choices
        )
    if kind == "value_error":
        return str(ctx.get("error", detail["msg"])), None
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return f"must be {op} {ctx.get(key)}, got {spelled(given)}", None
    if kind in _SIMPLE:
        return f"{_SIMPLE[kind]}, got {spelled(given)}", None
    msg = detail["msg"]
    return msg[:1].lower() + msg[1:], None


def _keys_at(model: type[BaseModel], path: KeyPath) -> list[str]:
    """The keys the table at ``path`` allows, read off the models' annotations."""
    kinds: list[object] = [model]
    for part in path:
        kinds = [nxt for k in kinds for nxt in _step(k, part)]
    return [name for k in kinds if _is_model(k) for name in k.model_fields]  # type: ignore[attr-defined]


def _is_model(kind: object) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _step(kind: object, part: str | int) -> list[object]:
    """The types one level down from ``kind`` at key (or index) ``part``."""
    out: list[object] = []
    for k in _members(kind):
        origin, args = typing.get_origin(k), typing.get_args(k)
        if _is_model(k) and isinstance(part, str):
            field = k.model_fields.get(part)  # type: ignore[attr-defined]
            if field is not None:
                out.extend(_members(field.annotation))
        elif origin in (dict, Mapping) and len(args) == 2:
            out.extend(_members(args[1]))
        elif origin in (list, tuple) and args:
            out.extend(_members(args[0]))
    return out


def _members(kind: object) -> list[object]:
    """A union's members, an Annotated type's base: the shapes a value may take."""
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        return _members(typing.get_args(kind)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(kind) for m in _members(arg)]
    return [kind]
