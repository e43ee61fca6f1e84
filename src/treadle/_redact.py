"""The one rule for secrets in URLs, below every layer: :func:`redact_url`.

A URL's password (``postgresql://app:secret@db/shop``, ``https://user:token@host/file``)
is shown as ``***`` in every message, repr, dump and status; the URL itself is untouched.
"""

from __future__ import annotations

from typing import Final

__all__ = ["REDACTED", "redact_url"]

REDACTED: Final = "***"


def redact_url(url: str) -> str:
    """``url`` with the password of its credentials replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    creds, at, host = authority.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:{REDACTED}@{host}{tail}"
