"""From an :class:`Artifact` to an executable file: :func:`resolve`.

Owns the order of the places to look and the one slow path:

1. the project's build directories (``target/release``, then ``target/debug``; debug
   ones first with ``TREADLE_PREFER_DEBUG=1``, or the seed's ``LOOM_PREFER_DEBUG=1``):
   a local build is taken as it is, whatever its version, never hashed;
2. the cache, on the fast path (:func:`._cache.trusted`: one ``stat``, one small read);
3. under the artifact's lock (one download across processes): the cache again (another
   process may just have filled it), a cached file hashed if its record is stale, and at
   last a download, verified against the declared sha256 before it is kept.

``force_download`` skips the first two and always downloads. Where it can go wrong is
:mod:`._errors`' tree.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .._exceptions import ArtifactError, ArtifactNotFound
from .._redact import redact_url
from ._artifact import Artifact, platform_tag
from ._cache import (
    Record,
    cache_location,
    locked,
    read_records,
    remove_partials,
    sha256_file,
    trusted,
    update_records,
)

__all__ = ["PREFER_DEBUG", "Origin", "Resolved", "prefers_debug", "resolve"]

PREFER_DEBUG: Final = ("TREADLE_PREFER_DEBUG", "LOOM_PREFER_DEBUG")
"""The variables that put debug build directories first (``1``, ``true``, ``yes``, ``on``)."""

_TRUE: Final = frozenset({"1", "true", "yes", "on"})


class Origin(enum.Enum):
    """Where a resolved file came from."""

    BUILD = "build"  # a project-local build directory
    CACHE = "cache"  # the cache, downloaded and verified before
    DOWNLOAD = "download"  # downloaded and verified just now


@dataclass(frozen=True, slots=True)
class Resolved:
    """An artifact's executable, found.

    Attributes:
        path: the file to run (absolute).
        origin: where it came from.
        sha256: the verified digest (from the cache's record or the download); None for
            a local build, which is never hashed.
    """

    artifact: Artifact
    path: Path
    origin: Origin
    platform: str
    sha256: str | None = None


def prefers_debug(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(env.get(name, "").strip().lower() in _TRUE for name in PREFER_DEBUG)


def resolve(
    artifact: Artifact,
    *,
    root: Path | str | None = None,
    force_download: bool = False,
    prefer_debug: bool | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Resolved:
    """The executable for ``artifact`` on this platform: a local build, the cached file,
    or a verified download (see the module docstring for the order).

    Args:
        root: the directory the build directories are relative to (default: the cwd).
        force_download: download it again even if built locally or cached.
        prefer_debug: search debug build directories first; None: as the environment
            says (``TREADLE_PREFER_DEBUG``, ``LOOM_PREFER_DEBUG``).
        environ: the environment for those and for ``XDG_CACHE_HOME`` (default
            ``os.environ``).
        timeout: seconds any one network operation of a download may take.

    Raises:
        ArtifactNotFound: not built, not cached, and no ``url`` to download it from.
        DownloadError: the download failed. ChecksumMismatch: it was not the declared file.
        ArtifactError: a download is needed, but no sha256 is declared for this platform.
    """
    platform = platform_tag()
    base = os.getcwd() if root is None else os.fspath(root)
    debug_first = prefers_debug(environ) if prefer_debug is None else prefer_debug
    dirs = _ordered(artifact.build_dirs, debug_first)
    # The fast path (every process start) works on strings: pathlib would triple its cost.
    if not force_download:
        for directory in dirs:
            local = os.path.join(base, directory, artifact.file_name)
            if _executable(local):
                return Resolved(artifact, Path(os.path.abspath(local)), Origin.BUILD, platform)
    location = cache_location(environ)
    cached = f"{location}/{artifact.cache_name(platform)}"
    expected = artifact.digest(platform)
    if not force_download:
        record = read_records(location).get(artifact.cache_name(platform))
        if trusted(cached, record, expected):
            assert record is not None
            return Resolved(artifact, Path(cached), Origin.CACHE, platform, record.sha256)
    cache, path = Path(location), Path(cached)
    cache.mkdir(parents=True, exist_ok=True)
    with locked(cache, path.name):
        remove_partials(cache, path.name)
        if not force_download:
            found = _cached(artifact, path, platform, expected)
            if found is not None:
                return found
        url = artifact.url_for(platform)
        what = artifact.describe(platform)
        if url is None:
            searched = ", ".join(os.path.join(base, d) for d in dirs) or "no build directories"
            raise ArtifactNotFound(
                f"{what}: not found: no executable {artifact.file_name!r} in {searched}; "
                f"no verified copy in the cache ({path}); and no url to download it from"
            )
        if expected is None:
            declared = ", ".join(sorted(artifact.sha256)) or "none"
            raise ArtifactError(
                f"{what}: no sha256 declared for {platform} (declared: {declared}): a "
                f"download from {redact_url(url)} could not be verified, so it is not made"
            )
        from ._download import download  # urllib and http.client: only when downloading

        st = download(url, path, expected, what=what, timeout=timeout)
        update_records(cache, [_record(artifact, path, platform, expected, st)])
        return Resolved(artifact, path, Origin.DOWNLOAD, platform, expected)


def _cached(artifact: Artifact, path: Path, platform: str, expected: str | None) -> Resolved | None:
    """The cached file, holding its lock: trusted as recorded, or hashed again when the
    record is stale (a touched file, a record lost in a crash) and found to be right."""
    cache = path.parent
    record = read_records(cache).get(path.name)
    if trusted(path, record, expected):
        assert record is not None
        return Resolved(artifact, path, Origin.CACHE, platform, record.sha256)
    wanted = expected or (record.sha256 if record is not None else None)
    if wanted is None or not path.is_file():
        return None
    if sha256_file(path) != wanted:
        return None  # replaced by the download (the caller's), if there is a url
    os.chmod(path, 0o755)
    st = os.stat(path)
    update_records(cache, [_record(artifact, path, platform, wanted, st)])
    return Resolved(artifact, path, Origin.CACHE, platform, wanted)


def _record(
    artifact: Artifact, path: Path, platform: str, digest: str, st: os.stat_result
) -> Record:
    return Record(
        path.name,
        digest,
        st.st_size,
        st.st_mtime_ns,
        artifact.name,
        artifact.version,
        platform,
    )


def _ordered(dirs: tuple[str, ...], debug_first: bool) -> tuple[str, ...]:
    """The build directories in search order: with ``debug_first``, those with a
    ``debug`` component move ahead of the rest (each group keeps its order)."""
    if not debug_first:
        return dirs
    return tuple(sorted(dirs, key=lambda d: "debug" not in Path(d).parts))


def _executable(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)
