"""Loom's runtime binaries: :func:`get_binary` and the rules ``loom.runtime.embedded``
finds, caches and downloads them by.

Owns Loom's policy: the cache (``~/.cache/loom/bin/VERSION/PLATFORM/NAME``), local cargo
builds (a workspace found up to 5 levels above the working directory; ``target``,
``bridge/target``, ``core/target``; release first) copied into the cache, a cached file
checked by its ``--version``, and release assets (``NAME-VERSION-PLATFORM.tar.gz`` with an
optional ``.sha256`` beside it) unpacked into the cache. The transfer itself is treadle's
(:mod:`treadle.artifacts`: streamed to a temporary file, verified when a digest is
published, renamed into place), so a failed download leaves nothing behind.

:func:`get_binary` is synchronous, as Loom's is; what it returns can also be awaited (the
seed's ``await get_binary(name=...)``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Generator
from pathlib import Path, PosixPath
from typing import Any, Final, Self

from .._exceptions import ArtifactError
from ..artifacts import platform_tag as _treadle_platform
from ..artifacts import prefers_debug
from ..artifacts._download import download

__all__ = [
    "APP_NAME",
    "GITHUB_REPO",
    "RELEASE_BASE_URL",
    "VENDOR",
    "BinaryNotInArchive",
    "BinaryPath",
    "ReleaseDownloadError",
    "binary_path",
    "cache_dir",
    "download_from_github",
    "ensure_executable",
    "find_local_build",
    "get_binary",
    "get_binary_version",
    "platform_tag",
    "validate_cached_binary",
    "verify_checksum",
]

VENDOR: Final = "loom-os"
APP_NAME: Final = "loom"
GITHUB_REPO: Final = "loom-os/loom"
RELEASE_BASE_URL = f"https://github.com/{GITHUB_REPO}/releases/download"
"""Where release assets are fetched from (read at each download: a mirror may replace it)."""

_ROOT_LEVELS: Final = 5  # how far up find_local_build looks for the cargo workspace
_TIMEOUT: Final = 60.0
_log = logging.getLogger("treadle.compat.loom")


class ReleaseDownloadError(ArtifactError, RuntimeError):
    """A release asset that could not be fetched, verified or unpacked (Loom raises a
    RuntimeError for each); its cause is treadle's DownloadError or ChecksumMismatch."""


class BinaryNotInArchive(ArtifactError, FileNotFoundError):
    """The release archive was unpacked but does not hold the binary."""


class BinaryPath(PosixPath):
    """A path that can also be awaited (to itself): the seed awaits :func:`get_binary`."""

    def __await__(self) -> Generator[Any, None, Self]:
        return self
        yield  # a generator: awaiting it returns at once


def platform_tag() -> str:
    """``linux-x86_64``, ``linux-aarch64``, ``macos-aarch64``: Loom's names (treadle's,
    with ``darwin`` called ``macos``)."""
    os_name, _, arch = _treadle_platform().partition("-")
    return f"{'macos' if os_name == 'darwin' else os_name}-{arch}"


def cache_dir() -> Path:
    """Loom's binary cache: ``$XDG_CACHE_HOME/loom/bin`` (``~/.cache/loom/bin``), or
    ``~/Library/Caches/loom/bin`` on macOS."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME / "bin"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return Path(xdg or Path.home() / ".cache") / APP_NAME / "bin"


def binary_path(binary_name: str, version: str = "latest") -> Path:
    """Where the cache keeps ``binary_name`` at ``version``: ``VERSION/PLATFORM/NAME``."""
    return cache_dir() / version / platform_tag() / binary_name


def ensure_executable(path: Path) -> None:
    """Add read and execute for everyone (never write)."""
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | 0o005)


def get_binary_version(path: Path) -> str | None:
    """The last word of ``path --version`` (``loom-bridge-server 0.1.0`` → ``0.1.0``);
    None when it fails, says nothing or takes over 5 s."""
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words else None


def validate_cached_binary(cached: Path, binary_name: str, expected_version: str) -> bool:
    """Whether the cached file can be used: it exists, is executable, and (for a version
    other than ``latest``) says it is that version; one that does not is removed."""
    if not cached.exists():
        return False
    if not os.access(cached, os.X_OK):
        _log.warning("cached binary not executable: %s", cached)
        return False
    if expected_version == "latest":
        return True
    actual = get_binary_version(cached)
    if actual is None or _bare(actual) != _bare(expected_version):
        _log.warning(
            "cached %s is version %s, not %s: removed", binary_name, actual, expected_version
        )
        cached.unlink(missing_ok=True)
        return False
    return True


def verify_checksum(file_path: Path, expected_sha256: str | None) -> bool:
    """Whether the file's sha256 is ``expected_sha256`` (any case); True when none is given."""
    if not expected_sha256:
        return True
    digest = hashlib.sha256()
    with open(file_path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == expected_sha256.lower()


def find_local_build(binary_name: str, prefer_release: bool | None = True) -> Path | None:
    """A cargo build of ``binary_name``: in the workspace (a Cargo.toml with ``[workspace]``
    or ``members``, in the working directory or up to 4 above), else the working
    directory; ``target``, ``bridge/target``, ``core/target``, release before debug
    (debug first with ``prefer_release=False``; None: as ``LOOM_PREFER_DEBUG`` says)."""
    release_first = not prefers_debug() if prefer_release is None else prefer_release
    base = _workspace(Path.cwd()) or Path.cwd()
    kinds = ("release", "debug") if release_first else ("debug", "release")
    for kind in kinds:
        for prefix in ("", "bridge/", "core/"):
            candidate = base / f"{prefix}target" / kind / binary_name
            if candidate.is_file():
                return candidate.resolve()
    return None


def get_binary(
    binary_name: str | None = None,
    version: str = "latest",
    allow_local: bool = True,
    prefer_release: bool | None = True,
    force_download: bool = False,
    *,
    name: str | None = None,
) -> BinaryPath:
    """The binary's path in the cache: a local build copied there, the cached file (if its
    version is right), or the release asset downloaded and unpacked there.

    Args:
        binary_name: ``loom-bridge-server``, ``loom-core``...; ``name`` is the seed's
            spelling of it.
        allow_local: take a local cargo build (see :func:`find_local_build`).
        prefer_release: release builds before debug ones; None: as ``LOOM_PREFER_DEBUG``.
        force_download: skip local builds and the cache.

    Raises:
        ReleaseDownloadError: the asset could not be fetched, is not the one its
            ``.sha256`` names, or is no gzipped tar. BinaryNotInArchive: it does not
            hold the binary.
    """
    binary = binary_name or name
    if not binary:
        raise TypeError("get_binary() needs a binary_name")
    cached = BinaryPath(binary_path(binary, version))
    if allow_local and not force_download:
        local = find_local_build(binary, prefer_release)
        if local is not None:
            _log.info("using the local build %s", local)
            cached.parent.mkdir(parents=True, exist_ok=True)
            temp = cached.with_name(f".{cached.name}.copy")
            shutil.copy2(local, temp)
            ensure_executable(temp)
            os.replace(temp, cached)  # a running copy is never overwritten in place
            return cached
    if not force_download and validate_cached_binary(cached, binary, version):
        return cached
    return BinaryPath(download_from_github(binary, version))


def download_from_github(binary_name: str, version: str) -> Path:
    """Fetch ``NAME-VERSION-PLATFORM.tar.gz`` from the release ``vVERSION`` (the version's
    own ``v`` is not doubled), check it against ``ASSET.sha256`` when the release has one,
    and unpack it into ``cache_dir()/VERSION/PLATFORM``."""
    tag = platform_tag()
    asset = f"{binary_name}-{version}-{tag}.tar.gz"
    release = version if version.startswith("v") else f"v{version}"
    url = f"{RELEASE_BASE_URL}/{release}/{asset}"
    expected = _published_digest(f"{url}.sha256")
    target = binary_path(binary_name, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    _log.info("downloading %s", url)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as work:
        archive = Path(work) / asset
        try:
            download(url, archive, expected, what=asset, timeout=_TIMEOUT)
        except ArtifactError as exc:
            raise ReleaseDownloadError(f"Failed to download {asset}: {exc}") from exc
        unpacked = Path(work) / "unpacked"
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(unpacked, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise ReleaseDownloadError(f"{asset}: not a gzipped tar archive: {exc}") from None
        if not (unpacked / binary_name).is_file():
            raise BinaryNotInArchive(
                f"Binary not found after extraction: {asset} has no {binary_name!r}"
            )
        for entry in unpacked.iterdir():  # each into place whole (a rename)
            _replace(entry, target.parent / entry.name)
    ensure_executable(target)
    return target


def _published_digest(url: str) -> str | None:
    """The digest in the release's ``.sha256`` file (``HASH`` or ``HASH  FILE``); None
    (and a warning) when there is none."""
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
            words = response.read(4096).decode("utf-8", "replace").split()
    except (OSError, ValueError):
        words = []
    if not words:
        _log.warning("no checksum file at %s: the download is not verified", url)
        return None
    digest: str = words[0].lower()
    return digest


def _replace(source: Path, destination: Path) -> None:
    if destination.is_dir() and not destination.is_symlink():
        shutil.rmtree(destination)
    os.replace(source, destination)


def _workspace(start: Path) -> Path | None:
    current = start
    for _ in range(_ROOT_LEVELS):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = (current / "Cargo.toml").read_text()
            if "[workspace]" in text or "members" in text:
                return current
        if current.parent == current:
            break
        current = current.parent
    return None


def _bare(version: str) -> str:
    return version.removeprefix("v")
