"""A ``treadle.toml`` being written by an importer: tables of keys, with comments.

Owns the rendering (strings, numbers, booleans, arrays and inline tables, keys quoted
where a bare key is not allowed, ``$`` written so that interpolation gives it back) and
the comments that keep what has no equivalent, so that nothing of the source is lost
silently. It knows nothing of supervisord or PM2: :mod:`._supervisord` and :mod:`._pm2`
fill it. Paths are written relative to the new file's directory where they lie under it.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Draft", "Table", "literal"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_DOLLAR = re.compile(r"\$(?=[${])")


def literal(text: str) -> str:
    """``text`` as a value that ``${VAR}`` interpolation gives back unchanged: a ``$``
    before ``{`` or ``$`` is doubled; a lone ``$`` (a shell's ``$PORT``) stays."""
    return _DOLLAR.sub("$$", text)


@dataclass
class Table:
    """One ``[a.b]`` table: its keys in order, a trailing comment per key, and notes
    (comments after its keys: the source's options that have no equivalent)."""

    path: tuple[str, ...]
    values: dict[str, object] = field(default_factory=dict)
    remarks: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def set(self, key: str, value: object, remark: str | None = None) -> None:
        self.values[key] = value
        if remark:
            self.remarks[key] = remark

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass
class Draft:
    """The file an importer writes: a header, notes about the whole source, tables.

    Args:
        source: the file imported (named in the header).
        kind: what wrote it (``"supervisord"``, ``"PM2"``).
        root: the directory the new file will be in (paths are made relative to it).
    """

    source: Path
    kind: str
    root: Path
    notes: list[str] = field(default_factory=list)
    tables: dict[tuple[str, ...], Table] = field(default_factory=dict)

    def table(self, *path: str) -> Table:
        return self.tables.setdefault(path, Table(path))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def path(self, value: str, base: Path | None = None) -> str:
        """A path from the source (relative to ``base``, default its directory) as the new
        file should say it: relative to the new file's directory where it is under it."""
        absolute = Path(os.path.normpath((base or self.source.parent) / value))
        try:
            relative = absolute.relative_to(self.root)
        except ValueError:
            return str(absolute)
        return str(relative) if relative.parts else "."

    def render(self) -> str:
        """The whole file; it parses back to exactly the values set (checked here)."""
        lines = [
            f"# Written by `treadle import` from {self.source} ({self.kind}).",
            "# What has no equivalent in treadle is kept as a comment where it was.",
            "# Check it with `treadle check`, run it with `treadle up`.",
        ]
        lines += [_comment(n) for n in self.notes]
        for table in self.tables.values():
            lines += ["", f"[{'.'.join(_key(p) for p in table.path)}]"]
            for key, value in table.values.items():
                remark = table.remarks.get(key)
                line = f"{_key(key)} = {_value(value)}"
                lines.append(f"{line}  {_comment(remark)}" if remark else line)
            lines += [_comment(n) for n in table.notes]
        text = "\n".join(lines) + "\n"
        self._check(text)
        return text

    def _check(self, text: str) -> None:
        parsed = tomllib.loads(text)
        for path, table in self.tables.items():
            node: object = parsed
            for part in path:
                assert isinstance(node, dict)
                node = node[part]
            assert node == _plain(table.values), f"{path}: {node!r} != {table.values!r}"


def _comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.splitlines() or [""])


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but for DEL, escaped here too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a TOML number: {value!r}")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def _plain(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
