"""Keeping secrets out of reprs, dumps and status: :func:`redact_env`, :func:`redact_url`.

A value is secret when its name looks so (:func:`treadle.broker._taskspec.is_secret`:
``TOKEN``, ``PASSWORD``, ``API_KEY``...); the credentials in a URL always are, whatever
the name of the value that holds it. The values themselves are untouched: processes get
them. The rule is the task protocol's (:func:`treadle.broker._taskspec.redact_env`).
"""

from __future__ import annotations

from .._redact import REDACTED, redact_url
from ..broker._taskspec import redact_env

__all__ = ["REDACTED", "redact_env", "redact_url"]
