"""One download into the cache: :func:`download`.

Owns the transfer and the guarantees around it: the body is streamed into a temporary
file in the cache directory (the same file system, so the rename is atomic) while its
sha256 is computed; a body shorter than its ``Content-Length``, an HTTP error, a
connection error or a timeout is a :class:`DownloadError`; a digest other than the
declared one is a :class:`ChecksumMismatch`. Only a verified file is made executable and
renamed into place; in every other case the temporary file is removed, so the cache
never holds a partial or unverified file. Credentials in the URL go in a Basic header that
a redirect keeps only while it stays on the same origin (scheme, host and port), and no
message shows them (:func:`treadle._redact.redact_url`). Locking (one download across
processes) and recording the digest are the caller's (:mod:`._resolve`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, BinaryIO, Final

from .. import __version__
from .._exceptions import ChecksumMismatch, DownloadError
from .._redact import redact_text, redact_url
from ._cache import PARTIAL

__all__ = ["download"]

_CHUNK: Final = 1 << 20
_USER_AGENT: Final = f"treadle/{__version__}"


def download(
    url: str, destination: Path, expected: str | None, *, what: str, timeout: float
) -> os.stat_result:
    """Fetch ``url`` to ``destination`` (mode 0755) if its sha256 is ``expected``.

    Args:
        expected: the sha256 the body must have; None: whatever came is kept (for a
            layer whose source publishes no digest: the transfer's guarantees still hold).
        what: the artifact, as error messages name it.
        timeout: seconds any one network operation (connecting, each read) may take.

    Returns:
        The new file's stat (what the cache records for its fast path).

    Raises:
        DownloadError: the transfer failed; ChecksumMismatch: the bytes are not the
        declared ones. Either way nothing is left in ``destination``'s directory.
    """
    fd, temp = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=PARTIAL
    )
    request, shown = _request(url)
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _fetch(request, shown, out, what=what, timeout=timeout)
            if expected is not None and actual != expected:
                raise ChecksumMismatch(what, shown, expected, actual)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o755)  # executable only once verified
        os.replace(temp, destination)
        _sync_directory(destination.parent)
        return os.stat(destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _request(url: str) -> tuple[urllib.request.Request, str]:
    """The request for ``url``, and ``url`` as messages show it. Credentials in the URL
    (``https://user:token@host/...``, ``https://token@host/...``) go in a Basic
    Authorization header, not the request line; they and query-string tokens are never
    shown."""
    parts = urllib.parse.urlsplit(url)
    headers = {"User-Agent": _USER_AGENT}
    if parts.username is None and parts.password is None:
        return urllib.request.Request(url, headers=headers), redact_url(url)
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    headers["Authorization"] = f"Basic {token}"
    host = parts.netloc.rpartition("@")[2]
    bare = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return urllib.request.Request(bare, headers=headers), redact_url(url)


def _fetch(
    request: urllib.request.Request, url: str, out: BinaryIO, *, what: str, timeout: float
) -> str:
    """Stream the body into ``out``; its sha256. ``url`` is the request's, as shown."""
    digest = hashlib.sha256()
    received = 0
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            length = _length(response.headers.get("Content-Length"))
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{what}: {url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = redact_text(str(exc.reason))
        raise DownloadError(f"{what}: cannot download {url}: {reason}") from None
    except http.client.IncompleteRead as exc:
        got = received + len(exc.partial)
        raise DownloadError(f"{what}: {url}: the connection closed after {got} bytes") from None
    except TimeoutError:
        raise DownloadError(f"{what}: {url}: no data for {timeout:g}s (timed out)") from None
    except (OSError, http.client.HTTPException) as exc:
        why = redact_text(str(exc))
        raise DownloadError(f"{what}: {url}: the transfer failed: {why}") from None
    # http.client returns a short body without complaint when the server closes early.
    if length is not None and received != length:
        raise DownloadError(
            f"{what}: {url}: the connection closed after {received} of {length} bytes"
        )
    return digest.hexdigest()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects as urllib does, but drops the Authorization header when one
    leaves the origin (scheme, host and port) the credentials were given for."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            for name in [k for k in new.headers if k.lower() == "authorization"]:
                del new.headers[name]
            new.unredirected_hdrs.pop("Authorization", None)
        return new


_OPENER: Final = urllib.request.build_opener(_Redirects)


def _length(header: str | None) -> int | None:
    return int(header) if header is not None and header.strip().isdigit() else None


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (a crash right after it keeps the new name)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
