"""Values in the file that are more than their TOML type, as pydantic types.

Owns :data:`Command` (a command line or a list of arguments), :data:`Target`
(``module:attribute``), :data:`EnvValue` (a string, or a number taken as one),
:data:`SignalName`, :data:`Umask` (octal), :data:`CpuSeconds` (a duration in whole
seconds), :data:`Sha256` and :data:`Lowercase`. Each raises ``ValueError`` with a plain
message; durations and sizes are :mod:`._units`'s.
"""

from __future__ import annotations

import re
import signal
from typing import Annotated, Final

from pydantic import BeforeValidator, Field

from ._spelled import spelled
from ._units import parse_duration

__all__ = [
    "Command",
    "CpuSeconds",
    "EnvValue",
    "Lowercase",
    "Sha256",
    "SignalName",
    "Target",
    "Umask",
]

_TARGET: Final = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")


def _target(value: object) -> object:
    if isinstance(value, str) and not _TARGET.fullmatch(value):
        raise ValueError(
            f'must be "module:attribute" (e.g. "shop.jobs:Poller"), got {spelled(value)}'
        )
    return value


def _command(value: object) -> object:
    """A command is a non-empty string or a non-empty list of strings; a list stays a tuple."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be empty")
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"must be a command line or a non-empty list of strings, got {spelled(value)}")


def _signal(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return signal.Signals(value)
        except ValueError:
            raise ValueError(f"{value} is not a signal number") from None
    if isinstance(value, str):
        name = value.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        try:
            return signal.Signals[name]
        except KeyError:
            raise ValueError(
                f'{spelled(value)} is not a signal (e.g. "SIGTERM", "SIGINT")'
            ) from None
    return value


def _env_value(value: object) -> object:
    """Numbers in ``env`` are written as TOML numbers often enough: take them as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _octal(value: object) -> object:
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            raise ValueError(
                f'must be an octal number such as "022", got {spelled(value)}'
            ) from None
    return value


def _whole_seconds(value: object) -> object:
    seconds = parse_duration(value)
    if seconds != int(seconds):
        raise ValueError(f"must be whole seconds, got {spelled(value)}")
    return int(seconds)


def _sha256(value: object) -> object:
    if isinstance(value, str) and not _SHA256.fullmatch(value):
        raise ValueError("must be 64 hexadecimal digits (the executable's sha256)")
    return value.lower() if isinstance(value, str) else value


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


Command = Annotated[str | tuple[str, ...], BeforeValidator(_command)]
"""A command line (a string) or its arguments (a non-empty list, kept as a tuple)."""

Target = Annotated[str, BeforeValidator(_target)]
"""``"module:attribute"``."""

EnvValue = Annotated[str, BeforeValidator(_env_value)]
"""An environment value: a string, or a TOML number written as one."""

SignalName = Annotated[signal.Signals, BeforeValidator(_signal)]
"""``"SIGTERM"``, ``"TERM"`` or a signal number."""

Umask = Annotated[int | None, BeforeValidator(_octal)]
"""An integer, or an octal string such as ``"022"``."""

CpuSeconds = Annotated[int | None, BeforeValidator(_whole_seconds), Field(ge=1)]
"""A duration in whole seconds, at least one."""

Sha256 = Annotated[str | None, BeforeValidator(_sha256)]
"""64 hexadecimal digits, kept in lower case."""

Lowercase = BeforeValidator(_lower)
"""Lower-case a string before validating it (for choices such as a log level)."""
