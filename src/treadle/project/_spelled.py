"""A value as the project file spells it: :func:`spelled`, for what errors say they got.

An error about ``enabled = "yes"`` or ``interval = true`` quotes the value back as TOML
writes it (``"yes"``, ``true``), never as Python would (``'yes'``, ``True``): the person
reading it wrote TOML. Owns nothing else.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Mapping
from typing import Final

__all__ = ["spelled"]

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def spelled(value: object) -> str:
    """``true``, ``"text"``, ``1.5``, ``inf``, ``[1, "a"]``, ``{ a = 1 }``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # a basic string: JSON's escapes are TOML's, but for DEL, which TOML escapes too
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(spelled, value)) + "]"
    if isinstance(value, Mapping):
        pairs = (f"{_key(str(k))} = {spelled(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }" if value else "{}"
    if value is None:
        return "nothing"
    return str(value)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else spelled(key)
