"""Keeping secrets out of reprs, dumps and status: :func:`redact_env`, :func:`redact_url`.

A value is secret when its name looks so (:func:`treadle.broker._taskspec.is_secret`:
``TOKEN``, ``PASSWORD``, ``API_KEY``...); a URL's password always is. The values
themselves are untouched: processes get them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, TypeVar

from ..broker._taskspec import REDACTED, is_secret

__all__ = ["REDACTED", "redact_env", "redact_url"]

_V = TypeVar("_V")
_URL_PASSWORD: Final = re.compile(r"(://[^:/@]*:)[^@/]*@")


def redact_env(env: Mapping[str, _V]) -> dict[str, _V | str]:
    """``env`` (or options) with the values of secret-looking names replaced."""
    return {k: REDACTED if is_secret(k) else v for k, v in env.items()}


def redact_url(url: str) -> str:
    """``postgresql://app:***@db/shop`` for ``postgresql://app:secret@db/shop``."""
    return _URL_PASSWORD.sub(rf"\1{REDACTED}@", url)
