"""Keeping secrets out of reprs, dumps and status: :func:`redact_env`, :func:`redact_url`.

A value is secret when its name looks so (:func:`treadle.broker._taskspec.is_secret`:
``TOKEN``, ``PASSWORD``, ``API_KEY``...); a URL's password always is. The values
themselves are untouched: processes get them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from .._redact import REDACTED, redact_url
from ..broker._taskspec import is_secret

__all__ = ["REDACTED", "redact_env", "redact_url"]

_V = TypeVar("_V")


def redact_env(env: Mapping[str, _V]) -> dict[str, _V | str]:
    """``env`` (or options) with the values of secret-looking names replaced."""
    return {k: REDACTED if is_secret(k) else v for k, v in env.items()}
