"""A loaded project: :class:`ProjectConfig` and the children it declares (:class:`ChildInfo`).

Owns the result of loading (the validated sections plus where they came from: the file,
its directory, the ``.env`` values, the selected profiles), the per-child view a reload
compares (kind, supervisor, config and a fingerprint of it), and redaction: no ``repr``
or :meth:`ProjectConfig.redacted` shows a secret-looking environment value, the
dashboard token or a broker URL's password. Loading is :mod:`._load`'s, building
:mod:`._build`'s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._exceptions import ConfigError
from ..artifacts import Artifact, resolve
from ._errors import Problem, Source, dotted
from ._layout import ChildConfig, Kind, child_configs, included, parents, tree_order
from ._locate import KeyPath
from ._redact import REDACTED, redact_env, redact_url
from ._schema import (
    DashboardConfig,
    LoggingConfig,
    LoopConfig,
    ProcessConfig,
    ProjectFile,
    RootSupervisorOptions,
    SupervisorConfig,
)

__all__ = ["ChildInfo", "ProjectConfig"]


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One declared child as a reload sees it.

    Attributes:
        name: its name (a pool's base name for ``replicas > 1``).
        kind: ``"loop"``, ``"process"`` or ``"supervisor"``.
        parent: the supervisor that holds it; None for the root.
        config: its validated table (what its ChildSpec is built from).
        fingerprint: a hash of everything its ChildSpec depends on: equal fingerprints,
            the same child. A supervisor's leaves out its ``children`` (each child has
            its own, which includes its parent).
    """

    name: str
    kind: Kind
    parent: str | None
    config: ChildConfig
    fingerprint: str


@dataclass(frozen=True, eq=False)
class ProjectConfig:
    """A validated project, ready for :func:`~treadle.project.build_tree`.

    Attributes:
        path: the file it was read from (treadle.toml, pyproject.toml or a Procfile).
        root: that file's directory; relative paths in the file are relative to it.
        name: ``project.name``, else the directory's name; the root supervisor's name.
        broker: an absolute path to the SQLite file, or a ``postgresql://`` URL.
        file: every section, validated.
        dotenv: the ``.env`` values the environment does not override: what process
            children get on top of the environment they inherit.
        profiles: the profiles selected when loading.
        order: child names in the order the file declares them.
    """

    path: Path
    root: Path
    name: str
    broker: str
    file: ProjectFile
    dotenv: Mapping[str, str] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    source: Source | None = field(default=None, compare=False)

    @property
    def supervisor(self) -> RootSupervisorOptions:
        return self.file.supervisor

    @property
    def limiters(self) -> dict[str, int]:
        """Limiter name → capacity."""
        return {name: lim.capacity for name, lim in self.file.limiters.items()}

    @property
    def loops(self) -> Mapping[str, LoopConfig]:
        return self.file.loops

    @property
    def processes(self) -> Mapping[str, ProcessConfig]:
        return self.file.processes

    @property
    def supervisors(self) -> Mapping[str, SupervisorConfig]:
        return self.file.supervisors

    @property
    def dashboard(self) -> DashboardConfig:
        return self.file.dashboard

    @property
    def logging(self) -> LoggingConfig:
        return self.file.logging

    def children(self, profiles: Sequence[str] | None = None) -> dict[str, ChildInfo]:
        """Each child the profiles keep (default: the selected ones), depth first in file
        order: a supervisor, then its children."""
        selected = self.profiles if profiles is None else tuple(profiles)
        configs = child_configs(self.file)
        up = parents(self.file)
        kept = included(self.file, selected)
        out: dict[str, ChildInfo] = {}
        for name in tree_order(self.file, self.order or tuple(configs)):
            if name in kept:
                kind, config = configs[name]
                fingerprint = self._fingerprint(kind, up[name], config)
                out[name] = ChildInfo(name, kind, up[name], config, fingerprint)
        return out

    def artifacts(self) -> list[Artifact]:
        """The artifacts the selected children run, by name."""
        names = {
            info.config.artifact
            for info in self.children().values()
            if isinstance(info.config, ProcessConfig) and info.config.artifact is not None
        }
        return [self.file.artifacts[n].to_artifact(n) for n in sorted(names)]

    def download_artifacts(self) -> None:
        """Download and verify again, into the cache, each artifact the selected children
        run (``force_download``: a build of the tree then finds them cached)."""
        for artifact in self.artifacts():
            resolve(artifact, root=self.root, force_download=True)

    def _fingerprint(self, kind: Kind, parent: str | None, config: ChildConfig) -> str:
        data: dict[str, object] = {
            "kind": kind,
            "parent": parent,
            "config": config.model_dump(mode="json", exclude={"children"}),
        }
        if kind == "process":  # what else its spec is made of
            data |= {"root": str(self.root), "dotenv": dict(self.dotenv)}
            artifact = getattr(config, "artifact", None)
            if artifact is not None and artifact in self.file.artifacts:  # a new version
                data["artifact"] = self.file.artifacts[artifact].model_dump(mode="json")
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def error(self, path: KeyPath, message: str, suggestion: str | None = None) -> ConfigError:
        """A ConfigError at ``path`` in this project's file (line and column where known)."""
        problem = Problem(path, message, suggestion)
        if self.source is None:
            return ConfigError(dotted(path), message, file=str(self.path), suggestion=suggestion)
        return self.source.error(problem)

    def redacted(self) -> dict[str, object]:
        """Everything, JSON-safe, with secret-looking env values, the dashboard token and
        the passwords in the broker's and the artifacts' URLs replaced by ``***``."""
        data = self.file.model_dump(mode="json")
        for name, process in self.file.processes.items():
            data["processes"][name]["env"] = redact_env(process.env)
            if isinstance(process.args, dict):
                data["processes"][name]["args"] = redact_env(data["processes"][name]["args"])
        for name in self.file.loops:
            data["loops"][name]["options"] = redact_env(data["loops"][name]["options"])
        if self.file.dashboard.token:
            data["dashboard"]["token"] = REDACTED
        for name, artifact in self.file.artifacts.items():
            if artifact.url is not None:
                data["artifacts"][name]["url"] = redact_url(artifact.url)
        return {
            "path": str(self.path),
            "root": str(self.root),
            "name": self.name,
            "broker": redact_url(self.broker),
            "profiles": list(self.profiles),
            "dotenv": redact_env(dict(self.dotenv)),
            **{k: v for k, v in data.items() if k != "project"},
        }

    def __repr__(self) -> str:
        counts = " ".join(
            f"{section}={len(table)}"
            for section, table in (
                ("loops", self.loops),
                ("processes", self.processes),
                ("supervisors", self.supervisors),
            )
        )
        profiles = f" profiles={list(self.profiles)}" if self.profiles else ""
        return f"<ProjectConfig {self.name!r} {str(self.path)!r} {counts}{profiles}>"
