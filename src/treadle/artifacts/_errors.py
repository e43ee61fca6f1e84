"""The errors of artifact resolution, rooted at :class:`ArtifactError`.

They belong in :mod:`treadle._exceptions`' tree (this package may not edit that module
yet); each already derives from :class:`~treadle.TreadleError`, with the stdlib or
treadle class that says the same thing mixed in::

    TreadleError
    └── ArtifactError                         an artifact could not be resolved
        ├── ArtifactNotFound(LookupError)     no local build, no cache entry, nothing to fetch
        ├── DownloadError(OSError)            the transfer failed (status, connection, short body)
        └── ChecksumMismatch(IntegrityError)  the bytes are not the ones declared

A bad declaration (a URL template with an unknown placeholder, say) is a
:class:`~treadle.ConfigError`, not one of these.
"""

from __future__ import annotations

from .._exceptions import IntegrityError, TreadleError

__all__ = ["ArtifactError", "ArtifactNotFound", "ChecksumMismatch", "DownloadError"]


class ArtifactError(TreadleError):
    """An artifact could not be resolved; the message names it, its version and platform."""


class ArtifactNotFound(ArtifactError, LookupError):
    """Nowhere to take the artifact from: the message lists every place searched."""


class DownloadError(ArtifactError, OSError):
    """The download failed (an HTTP status, a connection error, a body cut short);
    nothing of it was kept."""


class ChecksumMismatch(ArtifactError, IntegrityError):
    """A download's sha256 is not the declared one; nothing of it was kept."""

    def __init__(self, what: str, url: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{what}: the download from {url} has sha256 {actual}, expected {expected}; "
            "it was not kept"
        )
        self.url = url
        self.expected = expected
        self.actual = actual
