"""Durations and sizes as people write them: ``"500ms"``, ``"1m30s"``, ``"512MiB"``.

Owns the two pure parsers and the pydantic types built on them (:data:`Duration`,
:data:`Size`). A number is taken as seconds or bytes. Nothing here knows about files or
fields: a bad value raises ``ValueError`` with a plain message, which the loader places.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Final

from pydantic import BeforeValidator, Field

from ._spelled import spelled

__all__ = [
    "Duration",
    "PositiveDuration",
    "PositiveSize",
    "Size",
    "format_duration",
    "parse_duration",
    "parse_size",
]

_DURATION_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)")
_NUMBER: Final = re.compile(r"\d+(?:\.\d*)?|\.\d+")

_SIZE_UNITS: Final = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)", re.IGNORECASE)


def _number(value: object, what: str) -> float | None:
    """A TOML number as a float (None when ``value`` is not a number at all)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a {what}, got {spelled(value)}")
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"must be a finite {what} >= 0, got {spelled(value)}")
        return number
    return None


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string of ``<number><unit>`` parts.

    Units are ``ms``, ``s``, ``m``, ``h`` and ``d``; parts add up (``"1m30s"`` is 90.0); a
    bare number in a string is seconds (``"5"``), as an interpolated ``${VAR}`` gives.
    """
    number = _number(value, "duration")
    if number is not None:
        return number
    if not isinstance(value, str):
        raise ValueError(
            f'must be a duration (seconds, or a string like "2s"), got {spelled(value)}'
        )
    text = value.strip().replace(" ", "")
    if _NUMBER.fullmatch(text):
        return float(text)
    parts = list(_DURATION_PART.finditer(text))
    if not text or "".join(p.group(0) for p in parts) != text:
        raise ValueError(
            f"{spelled(value)} is not a duration: write seconds, or a number with a unit "
            '(ms, s, m, h, d) such as "500ms", "2s", "5m" or "1h30m"'
        )
    return sum(float(p.group(1)) * _DURATION_UNITS[p.group(2)] for p in parts)


def format_duration(seconds: float) -> str:
    """The shortest exact string :func:`parse_duration` reads back as ``seconds``."""
    for unit in ("d", "h", "m", "s"):
        count = seconds / _DURATION_UNITS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{seconds!r}s"


def parse_size(value: object) -> int:
    """Bytes from an integer or a string such as ``"10MB"`` (10**7) or ``"512MiB"`` (2**29).

    Units: ``B``, decimal ``KB MB GB TB`` and binary ``KiB MiB GiB TiB``, in any case. A
    fractional result is rounded down to whole bytes.
    """
    number = _number(value, "size")
    if number is not None:
        if number != int(number):
            raise ValueError(f"must be a whole number of bytes, got {spelled(value)}")
        return int(number)
    if not isinstance(value, str):
        raise ValueError(f'must be a size (bytes, or a string like "10MB"), got {spelled(value)}')
    match = _SIZE.fullmatch(value.strip())
    unit = match.group(2).lower() if match else ""
    if match is None or (unit and unit not in _SIZE_UNITS):
        raise ValueError(
            f"{spelled(value)} is not a size: write bytes, or a number with a unit "
            '(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) such as "10MB" or "512MiB"'
        )
    return int(float(match.group(1)) * _SIZE_UNITS[unit or "b"])


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds >= 0, written as a number or a string like ``"2s"``."""

PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
"""Seconds > 0 (an interval, a timeout)."""

Size = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
"""Bytes >= 0, written as an integer or a string like ``"10MB"``."""

PositiveSize = Annotated[int, BeforeValidator(parse_size), Field(ge=1)]
"""Bytes >= 1 (a limit)."""
