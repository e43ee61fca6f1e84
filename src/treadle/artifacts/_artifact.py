"""What an artifact is: :class:`Artifact`, and the platform it is for: :func:`platform_tag`.

Owns the declaration (a name, a version, the build directories to look in, a download
URL template and the sha256 each platform's file must have) and its rules: names and
versions that make safe file names, the template's placeholders, the digests' form. A
rule broken is a :class:`~treadle.ConfigError` naming the field, so that a project file
can place it at its key. Finding the file is :mod:`._resolve`'s.
"""

from __future__ import annotations

import functools
import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from .._exceptions import ConfigError

__all__ = ["DEFAULT_BUILD_DIRS", "PLACEHOLDERS", "Artifact", "platform_tag"]

DEFAULT_BUILD_DIRS: Final = ("target/release", "target/debug")
PLACEHOLDERS: Final = ("name", "version", "platform", "os", "arch")
"""What a URL template may name: ``{platform}`` is ``{os}-{arch}`` (``linux-x86_64``)."""

_PART: Final = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+-]*")  # part of a file name: no '/'
_PLATFORM: Final = re.compile(r"[a-z0-9_]+-[a-z0-9_]+")
_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")
_SCHEMES: Final = ("http://", "https://", "file://")
_ARCH: Final = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "i686": "x86"}


@functools.cache
def platform_tag() -> str:
    """This machine as ``os-arch``: ``linux-x86_64``, ``linux-aarch64``, ``darwin-aarch64``
    (the machine names Rust's targets use)."""
    uname = os.uname()
    machine = uname.machine.lower()
    return f"{uname.sysname.lower()}-{_ARCH.get(machine, machine)}"


@dataclass(frozen=True)
class Artifact:
    """An executable, found or fetched by :func:`~treadle.artifacts.resolve`.

    Args:
        name: its name: the file's name in a build directory (unless ``executable``
            says otherwise) and the start of its name in the cache.
        version: which one; part of the cache's file name (a local build is taken
            whatever its version).
        url: where to download it: a template over ``{name}``, ``{version}``,
            ``{platform}``, ``{os}`` and ``{arch}``; None: never downloaded.
        sha256: the digest of each platform's file (``{"linux-x86_64": "..."}``); a
            download for a platform without one is refused.
        build_dirs: directories (relative to the project) searched first, in order.
        executable: its file name in a build directory, if not ``name``.
    """

    name: str
    version: str
    url: str | None = field(default=None, repr=False)  # it may hold credentials
    sha256: Mapping[str, str] = field(default_factory=dict)
    build_dirs: tuple[str, ...] = DEFAULT_BUILD_DIRS
    executable: str | None = None

    def __post_init__(self) -> None:
        for key in ("name", "version"):
            value = getattr(self, key)
            if not _PART.fullmatch(value):
                raise ConfigError(
                    key,
                    f"{value!r} cannot be part of a file name: use letters, digits and "
                    "'_', '.', '+', '-' (not first)",
                )
        if self.executable is not None and not _PART.fullmatch(self.executable):
            raise ConfigError("executable", f"must be a file name, got {self.executable!r}")
        if self.url is not None:
            _check_template(self.url)
        digests: dict[str, str] = {}
        for platform, digest in self.sha256.items():
            if not _PLATFORM.fullmatch(platform):
                raise ConfigError(
                    f"sha256.{platform}",
                    f"{platform!r} is not a platform: write 'os-arch', as {platform_tag()!r}",
                )
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                raise ConfigError(f"sha256.{platform}", "must be 64 hexadecimal digits")
            digests[platform] = digest.lower()
        object.__setattr__(self, "sha256", digests)
        dirs = (self.build_dirs,) if isinstance(self.build_dirs, str) else tuple(self.build_dirs)
        if any(not d for d in dirs):
            raise ConfigError("build_dirs", "a build directory must not be empty")
        object.__setattr__(self, "build_dirs", dirs)

    @property
    def file_name(self) -> str:
        """Its file name in a build directory."""
        return self.executable or self.name

    def cache_name(self, platform: str | None = None) -> str:
        """Its file name in the cache: ``NAME-VERSION-PLATFORM``."""
        return f"{self.name}-{self.version}-{platform or platform_tag()}"

    def digest(self, platform: str | None = None) -> str | None:
        """The declared sha256 for ``platform`` (default: this one), if there is one."""
        return self.sha256.get(platform or platform_tag())

    def url_for(self, platform: str | None = None) -> str | None:
        """The download URL for ``platform`` (default: this one); None without a template."""
        if self.url is None:
            return None
        tag = platform or platform_tag()
        os_name, _, arch = tag.partition("-")
        return self.url.format(
            name=self.name, version=self.version, platform=tag, os=os_name, arch=arch
        )

    def describe(self, platform: str | None = None) -> str:
        """``loom-bridge v0.1.0 (linux-x86_64)``: what error messages call it."""
        return f"{self.name} {self.version} ({platform or platform_tag()})"


def _check_template(url: str) -> None:
    if not url.startswith(_SCHEMES):
        raise ConfigError("url", f"must be an http://, https:// or file:// URL, got {url!r}")
    try:
        fields = list(string.Formatter().parse(url))
    except ValueError as exc:
        raise ConfigError(
            "url", f"not a URL template: {exc} (write a literal brace twice)"
        ) from None
    for _, key, spec, conversion in fields:
        if key is None:
            continue
        if key not in PLACEHOLDERS or spec or conversion:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ConfigError("url", f"unknown placeholder {{{key}}} (known: {known})")
