"""Artifacts: executables resolved by name and version, from a project's build
directories, the user's cache, or a download verified against its declared sha256.

``[artifacts.NAME]`` in treadle.toml declares one, and ``[processes.X] artifact = "NAME"``
runs it; ``treadle cache list|verify|clear`` looks after the cache.
"""

from .._exceptions import ArtifactError as ArtifactError
from .._exceptions import ArtifactNotFound as ArtifactNotFound
from .._exceptions import ChecksumMismatch as ChecksumMismatch
from .._exceptions import DownloadError as DownloadError
from ._artifact import DEFAULT_BUILD_DIRS as DEFAULT_BUILD_DIRS
from ._artifact import PLACEHOLDERS as PLACEHOLDERS
from ._artifact import Artifact as Artifact
from ._artifact import platform_tag as platform_tag
from ._cache import cache_dir as cache_dir
from ._inventory import CacheEntry as CacheEntry
from ._inventory import EntryState as EntryState
from ._inventory import Verification as Verification
from ._inventory import clear_cache as clear_cache
from ._inventory import list_cache as list_cache
from ._inventory import verify_cache as verify_cache
from ._resolve import PREFER_DEBUG as PREFER_DEBUG
from ._resolve import Origin as Origin
from ._resolve import Resolved as Resolved
from ._resolve import prefers_debug as prefers_debug
from ._resolve import resolve as resolve

__all__ = [
    "DEFAULT_BUILD_DIRS",
    "PLACEHOLDERS",
    "PREFER_DEBUG",
    "Artifact",
    "ArtifactError",
    "ArtifactNotFound",
    "CacheEntry",
    "ChecksumMismatch",
    "DownloadError",
    "EntryState",
    "Origin",
    "Resolved",
    "Verification",
    "cache_dir",
    "clear_cache",
    "list_cache",
    "platform_tag",
    "prefers_debug",
    "resolve",
    "verify_cache",
]
