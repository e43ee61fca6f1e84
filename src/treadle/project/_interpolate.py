"""``${VAR}`` interpolation of configuration values, as Docker Compose writes it.

Owns the grammar and its application to a parsed TOML tree:

- ``${VAR}``: the variable's value; an error if it is unset (empty is a value).
- ``${VAR:-default}``: the default when the variable is unset or empty; the default may
  itself hold references (``${A:-${B:-b}}``), expanded only when it is used.
- ``$$``: a literal ``$`` (so ``$${`` is a literal ``${``, and ``$$${A}`` a ``$`` before
  A's value), as in Compose. A lone ``$`` not followed by ``{`` is left as it is, so a
  shell command keeps its ``$PORT``.

One pass only: a value that comes from the environment is never interpolated again.
Nothing here reads files or the environment; the loader hands in the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from ._errors import Invalid, Problem
from ._locate import KeyPath

__all__ = ["InterpolationError", "escape", "interpolate", "interpolate_tree"]

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A reference that cannot be expanded; ``variable`` names it when one was read."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """``text`` with every reference replaced from ``env`` (see the module docstring)."""
    if "$" not in text:
        return text
    return _Expander(text, env).expand(stop_at_brace=False, strict=True)


def escape(text: str) -> str:
    """``text`` written so that :func:`interpolate` gives it back unchanged."""
    return text.replace("$", "$$")


def interpolate_tree(value: object, env: Mapping[str, str], path: KeyPath = ()) -> object:
    """A copy of a parsed TOML value with every string interpolated.

    Raises:
        Invalid: a reference failed; the problem names the value's key path.
    """
    if isinstance(value, str):
        try:
            return interpolate(value, env)
        except InterpolationError as exc:
            raise Invalid(Problem(path, str(exc))) from None
    if isinstance(value, dict):
        return {k: interpolate_tree(v, env, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_tree(v, env, (*path, i)) for i, v in enumerate(value)]
    return value


class _Expander:
    __slots__ = ("env", "pos", "text")

    def __init__(self, text: str, env: Mapping[str, str]) -> None:
        self.text = text
        self.env = env
        self.pos = 0

    def expand(self, *, stop_at_brace: bool, strict: bool) -> str:
        """Expand from ``pos`` to the end, or (in a default) to its closing brace.

        ``strict=False`` scans a default that will not be used: it only finds its end.
        """
        text, out = self.text, []
        while self.pos < len(text):
            if text.startswith("$$", self.pos):
                out.append("$")
                self.pos += 2
            elif text.startswith("${", self.pos):
                self.pos += 2
                out.append(self._reference(strict=strict))
            elif stop_at_brace and text[self.pos] == "}":
                return "".join(out)
            else:
                out.append(text[self.pos])
                self.pos += 1
        if stop_at_brace:
            raise InterpolationError(f"unterminated '${{' in {text!r}: a '}}' is missing")
        return "".join(out)

    def _reference(self, *, strict: bool) -> str:
        text = self.text
        match = _NAME.match(text, self.pos)
        if match is None:
            raise InterpolationError(
                f"{text!r}: '${{' must be followed by a variable name "
                "(write '$${' for a literal '${')"
            )
        name = match.group()
        self.pos = match.end()
        value = self.env.get(name)
        if text.startswith("}", self.pos):
            self.pos += 1
            if value is None and strict:
                raise InterpolationError(
                    f"${{{name}}} is not set and has no default "
                    f"(set it, or write ${{{name}:-default}})",
                    name,
                )
            return value or ""
        if text.startswith(":-", self.pos):
            self.pos += 2
            use_default = not value
            default = self.expand(stop_at_brace=True, strict=strict and use_default)
            self.pos += 1  # the closing brace
            return default if use_default else value or ""
        raise InterpolationError(f"{text!r}: expected '}}' or ':-' after '${{{name}'", name)
