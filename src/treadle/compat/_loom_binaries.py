"""Loom's binary management: :func:`get_binary` and :func:`binary_path` over
:mod:`treadle.artifacts`.

Owns finding the declaration of a binary (the project's ``[artifacts.NAME]``, from the
given directory up) and the seed's rule that another version than the declared one has
no digest (so it can come from a build or the cache, never from an unverified download).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from .._exceptions import ConfigError
from ..artifacts import Artifact, cache_dir, resolve
from ..project import find_project, load_project

__all__ = ["binary_path", "get_binary"]


async def get_binary(
    name: str,
    version: str | None = None,
    force_download: bool = False,
    *,
    project_dir: Path | str | None = None,
) -> Path:
    """The binary's path: a local build, the cache, or a verified download, as the
    project's ``[artifacts.NAME]`` declares it (its version unless ``version`` says
    another; only the declared version has the sha256 a download needs)."""
    start = Path(project_dir) if project_dir is not None else Path.cwd()
    artifact, root = _declared(name, start)
    if artifact is None:
        if version is None:
            raise ConfigError("version", f"no [artifacts.{name}] in a project here: give one")
        artifact = Artifact(name, version)
    elif version is not None and version != artifact.version:
        artifact = dataclasses.replace(artifact, version=version, sha256={})
    found = await asyncio.to_thread(resolve, artifact, root=root, force_download=force_download)
    return found.path


def binary_path(name: str, version: str) -> Path:
    """Where the cache keeps ``name`` at ``version`` for this platform (it may not be
    there yet: :func:`get_binary` puts it there)."""
    return cache_dir() / Artifact(name, version).cache_name()


def _declared(name: str, start: Path) -> tuple[Artifact | None, Path]:
    """The project's declaration of artifact ``name`` and the project's directory (None
    and ``start`` when there is no project or it declares no such artifact)."""
    try:
        file = find_project(start)
    except ConfigError:
        return None, start
    project = load_project(file)
    table = project.file.artifacts.get(name)
    return (table.to_artifact(name) if table else None), project.root
