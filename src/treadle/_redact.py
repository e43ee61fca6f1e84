"""The one rule for secrets in URLs, below every layer: :func:`redact_url`, :func:`redact_text`.

A URL's credentials are shown as ``***`` in every message, repr, dump and status: the
password of ``postgresql://app:secret@db/shop``, the whole user part of
``https://TOKEN@host/file`` (a token alone in the user field is as secret as a password),
and the values of query parameters that carry credentials (``?token=``, ``access_token``,
``sig``, ``X-Amz-Signature``...). The URL itself is untouched: only what is shown changes.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["REDACTED", "redact_text", "redact_url"]

REDACTED: Final = "***"

# Query parameters whose value is a credential: tokens, keys, signatures (S3's and
# Azure's presigned URLs among them), passwords and sessions.
_SECRET_PARAM = re.compile(
    r"token|key|sig|signature|secret|password|passwd|pwd|auth|credential|session|code",
    re.I,
)
# A URL inside free text: a scheme, ``://``, and what follows up to a space, quote or
# parenthesis.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()]+")


def redact_url(url: str) -> str:
    """``url`` with its credentials replaced by ``***``: the password (the user too when
    there is no password: it is a token), and secret-looking query parameters."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    creds, at, host = authority.rpartition("@")
    if at:
        user, colon, _ = creds.partition(":")
        authority = f"{user}:{REDACTED}@{host}" if colon else f"{REDACTED}@{host}"
    return f"{scheme}{sep}{authority}{_redact_query(tail)}"


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (:func:`redact_url`); other text as it is."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def _redact_query(tail: str) -> str:
    path, q, rest = tail.partition("?")
    if not q:
        return tail
    query, hash_, fragment = rest.partition("#")
    params = []
    for param in query.split("&"):
        name, eq, _ = param.partition("=")
        params.append(f"{name}={REDACTED}" if eq and _SECRET_PARAM.search(name) else param)
    return f"{path}?{'&'.join(params)}{hash_}{fragment}"
