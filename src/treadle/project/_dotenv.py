"""``.env`` files: ``KEY=VALUE`` lines, as Docker Compose, foreman and honcho read them.

Owns the format: optional ``export``, ``#`` comments (whole lines, or after whitespace
in an unquoted value), blank lines, single quotes (literal) and double quotes (``\\n``,
``\\t``, ``\\r``, ``\\"``, ``\\\\`` and ``\\$`` honoured). A value is not interpolated and
spans one line. A malformed line is a :class:`~treadle.ConfigError` naming the file and
line (never the value: it may be a secret). It does not own precedence: the loader puts
the real environment over these values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from .._exceptions import ConfigError
from ._errors import read_text

__all__ = ["parse_dotenv", "read_dotenv"]

_LINE: Final = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*")
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables in the .env file at ``path``."""
    return parse_dotenv(read_text(path, "env_file"), path)


def parse_dotenv(text: str, path: Path) -> dict[str, str]:
    """The variables in ``text`` (read from ``path``, which errors name); a later line for
    the same key wins."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigError(
                "env_file",
                "expected KEY=VALUE (a KEY is letters, digits and _, not starting with a digit)",
                file=str(path),
                line=number,
                column=len(line) - len(line.lstrip()) + 1,
            )
        key = match.group(1)
        try:
            env[key] = _value(line, match.end())
        except ValueError as exc:
            raise ConfigError(
                key, str(exc), file=str(path), line=number, column=match.end() + 1
            ) from None
    return env


def _value(line: str, start: int) -> str:
    quote = line[start : start + 1]
    if quote not in ("'", '"'):
        value = line[start:]
        comment = re.search(r"\s#", value)
        return (value[: comment.start()] if comment else value).strip()
    out: list[str] = []
    i = start + 1
    while True:
        if i >= len(line):
            kind = "double" if quote == '"' else "single"
            raise ValueError(f"unterminated {kind}-quoted value (a value spans one line)")
        ch = line[i]
        if ch == quote:
            break
        if quote == '"' and ch == "\\" and i + 1 < len(line):
            code = line[i + 1]
            out.append(_ESCAPES.get(code, "\\" + code))
            i += 2
            continue
        out.append(ch)
        i += 1
    rest = line[i + 1 :].strip()
    if rest and not rest.startswith("#"):
        raise ValueError("unexpected text after the closing quote")
    return "".join(out)
