"""A project running inside a manager: :class:`ProjectRuntime`, the manager's Hosted tree.

Owns the live side of a project: the tree built from its file (with every process's
output in ``.treadle/logs/NAME.log`` unless the file says otherwise, and lifecycle events
in ``.treadle/logs/treadle.log``), finding a child by name or dotted path, the operator's
requests on it (status, restart, pause, resume, stop, start, scale, dump), and ``reload``:
the file read again and the difference applied: what is new started, what is gone
stopped, what changed restarted, the rest left alone. What its loops print and log goes
to their own log files while logging is started (:mod:`._capture`).
"""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._exceptions import ChildNotFound, ConfigError, TreadleError
from .._lifecycle import UP
from ..supervisor import Supervisor
from ._build import build_child, build_tree
from ._capture import LoopOutput
from ._config import ChildInfo, ProjectConfig
from ._diff import diff
from ._errors import closest
from ._load import load_project
from ._procfile import load_procfile

__all__ = ["LIFECYCLE_LOG", "ProjectRuntime"]

LIFECYCLE_LOG = "treadle.log"
_LOG_FORMAT = "%(asctime)s %(name)s %(message)s"


class ProjectRuntime:
    """A project's tree and how to steer it (see :class:`treadle.manager.Hosted`).

    Args:
        path: the project file or a directory to search from (default: the cwd).
        procfile: run this Procfile instead of a treadle.toml.
        profiles: the profiles to run (children in no profile always run).
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        procfile: Path | str | None = None,
        profiles: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._path = path
        self._procfile = procfile
        self._profiles = tuple(profiles)
        self._environ = environ
        self.config = self._load()
        self.log_dir = self.config.root / ".treadle" / "logs"
        self._tree: Supervisor | None = None
        self._handler: logging.Handler | None = None
        self._capture: LoopOutput | None = None
        self._leader: Callable[[], bool] = _always

    def set_leader(self, check: Callable[[], bool]) -> None:
        """What ``leader_only`` loops ask: whether this process leads its fleet now (the
        hosting manager's ``is_leader``)."""
        self._leader = check

    def is_leader(self) -> bool:
        return self._leader()

    def _load(self) -> ProjectConfig:
        if self._procfile is not None:
            return load_procfile(self._procfile, environ=self._environ)
        return load_project(self._path, environ=self._environ, profiles=self._profiles)

    # -- Hosted ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def source(self) -> str:
        return str(self.config.path)

    def tree(self) -> Supervisor:
        """The tree, built once (its processes log under ``.treadle/logs``)."""
        if self._tree is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._tree = build_tree(self.config, log_dir=self.log_dir, leader=self.is_leader)
            self._tree.child_context = True  # a loop's print() and logging: to its log
        return self._tree

    def status(self) -> dict[str, Any]:
        tree = self.tree()
        return {
            "name": self.name,
            "file": self.source,
            "root": str(self.config.root),
            "logs": str(self.log_dir),
            "tree": tree.status(),
            "stopped": sorted(_terminated(tree)),
            "children": {n: i.kind for n, i in self.config.children().items()},
        }

    async def control(
        self, op: str, target: str | None, args: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any] | None]:
        if op == "STATUS":
            return "ok", self.status()
        if op == "RELOAD":
            return "reloaded", await self.reload()
        if op == "DUMP":
            return "ok", self._where(target)[0].dump() if target else self.tree().dump()
        if target is None:
            raise ConfigError("target", f"{op} needs a child's name")
        name = self._name(target)
        base = name.split("[", 1)[0]  # a pool member's pool
        sup, child = self._where(name)
        if op == "START":
            return await self._start(sup, child)
        if op == "RESTART":  # one stopped by an operator too
            await sup.restart(child)
            return "restarted", None
        if op in ("PAUSE", "RESUME") and child in sup.terminated:
            raise TreadleError(f"{self.name}: {child!r} is stopped (treadle start {child})")
        if op == "PAUSE":
            sup.pause(child, reason="paused by an operator")
            return "paused", None
        if op == "RESUME":
            sup.resume(child, reason="resumed by an operator")
            return "running", None
        if op == "STOP":  # kept in the tree, stopped, until START or RESTART
            await sup.terminate(child)
            return "stopped", None
        if op == "SCALE":  # a pool, named by itself or by one of its members
            members = await self._scale(sup, base, args)
            stopped = [m for m in members if m in sup.terminated]  # they count, stopped
            return "scaled", {"members": members, **({"stopped": stopped} if stopped else {})}
        raise ConfigError("op", f"{op} is not an op for a project's child")

    # -- children -------------------------------------------------------------------------

    def _name(self, target: str) -> str:
        """The declared child a target names: ``web``, ``web[1]``'s pool, or the last part
        of a dotted path (``background.poller``)."""
        children = self.config.children()
        for candidate in (target, target.rsplit(".", 1)[-1], target.split("[", 1)[0]):
            if candidate in children:
                return target if "[" in target and candidate != target else candidate
        guess = closest(target, children)
        hint = f"did you mean {guess!r}?" if guess else f"children: {', '.join(children)}"
        raise ChildNotFound(f"{self.name}: no child {target!r} ({hint})")

    def _where(self, name: str) -> tuple[Supervisor, str]:
        """The running supervisor that holds ``name``, and the name it knows it by."""
        base = name.split("[", 1)[0]
        info = self.config.children().get(base)
        if info is None:
            raise ChildNotFound(f"{self.name}: no child {name!r}")
        chain: list[str] = []
        parent = info.parent
        while parent is not None:
            chain.append(parent)
            parent = self.config.children()[parent].parent
        sup = self.tree()
        for ancestor in reversed(chain):
            inner = sup.target(ancestor) if ancestor in sup.children else None
            if not isinstance(inner, Supervisor):
                raise ChildNotFound(f"{self.name}: supervisor {ancestor!r} is not running")
            if ancestor in sup.terminated:
                raise TreadleError(
                    f"{self.name}: {ancestor!r} is stopped (treadle start {ancestor})"
                )
            sup = inner
        if info.kind == "supervisor" and base == name and name not in sup.children:
            raise ChildNotFound(f"{self.name}: {name!r} is not running")
        return sup, name

    async def _start(self, sup: Supervisor, name: str) -> tuple[str, dict[str, Any] | None]:
        """Start again what an operator stopped: a child, a pool member, or a pool's
        stopped members (its running ones are left alone)."""
        members = [n for n in sup.children if n == name or n.startswith(f"{name}[")]
        if not members:
            raise ChildNotFound(
                f"{self.name}: no child {name!r} (children: {', '.join(sup.children)})"
            )
        stopped = [n for n in sup.terminated if n in members]
        if not stopped:
            up = all(sup.child_state(n) in UP for n in members)
            raise TreadleError(f"{self.name}: {name!r} is not stopped{' (running)' if up else ''}")
        for member in stopped:
            await sup.restart(member)
        return "started", None

    def _parent(self, info: ChildInfo) -> Supervisor:
        if info.parent is None:
            return self.tree()
        sup, child = self._where(info.parent)
        inner = sup.target(child)
        assert isinstance(inner, Supervisor)
        return inner

    async def _scale(self, sup: Supervisor, name: str, args: Mapping[str, Any]) -> list[str]:
        replicas = args.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ConfigError("replicas", f"must be a whole number >= 0, got {replicas!r}")
        bounds = getattr(self.config.children()[name].config, "scale", None)
        low = bounds.min if bounds is not None else 0
        high = bounds.max if bounds is not None else None
        if replicas < low or (high is not None and replicas > high):
            most = "" if high is None else f" and at most {high}"
            raise ConfigError("replicas", f"{name}: must be at least {low}{most}, got {replicas}")
        return await sup.scale(name, replicas)

    # -- reload ---------------------------------------------------------------------------

    async def reload(self) -> dict[str, Any]:
        """Read the file again and apply what changed; what was applied."""
        new = self._load()  # a bad file raises here, and nothing changes
        change = diff(self.config, new)
        for name in [*change.removed, *change.changed]:
            await self._remove(name)
        self.config = new
        if self._capture is not None:
            self._capture.forget()  # a name may be a loop now, or no more
        for name in [*change.changed, *change.added]:
            info = new.children()[name]
            if info.parent in change.added or info.parent in change.changed:
                continue  # it comes with its supervisor
            child = build_child(new, name, log_dir=self.log_dir, leader=self.is_leader)
            self._parent(info).add(child)
        return {
            "added": list(change.added),
            "removed": list(change.removed),
            "changed": list(change.changed),
            "unchanged": list(change.unchanged),
            "sections": list(change.sections),
        }

    async def _remove(self, name: str) -> None:
        """Take a child of the running tree out (located by the current config)."""
        try:
            sup, child = self._where(name)
        except ChildNotFound:
            return  # it went with its supervisor
        if child in sup.children or any(c.startswith(child + "[") for c in sup.children):
            await sup.remove(child)

    # -- logging --------------------------------------------------------------------------

    def start_logging(self, max_bytes: int = 10 << 20, backups: int = 5) -> None:
        """Write treadle's own log lines (lifecycle events among them, at ``[logging]
        level = "info"`` or finer) to treadle.log, and what the loops print and log to
        their own ``NAME.log`` (:class:`._capture.LoopOutput`)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        level = logging.getLevelNamesMapping()[self.config.logging.level.upper()]
        self._capture = LoopOutput(self.log_dir, level, loops=self._is_loop)
        self._capture.install()
        handler = logging.handlers.RotatingFileHandler(
            self.log_dir / LIFECYCLE_LOG, maxBytes=max_bytes, backupCount=backups
        )
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        logger = logging.getLogger("treadle")
        logger.addHandler(handler)
        logger.setLevel(self.config.logging.level.upper())
        self._handler = handler

    def _is_loop(self, name: str) -> bool:
        return name in self.config.file.loops

    def stop_logging(self) -> None:
        if self._capture is not None:
            self._capture.uninstall()
            self._capture = None
        if self._handler is not None:
            logging.getLogger("treadle").removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def __repr__(self) -> str:
        return f"<ProjectRuntime {self.name!r} {self.source}>"


def _always() -> bool:
    return True


def _terminated(sup: Supervisor, prefix: str = "") -> list[str]:
    """The dotted names of the children an operator stopped, nested supervisors' too."""
    out = [prefix + n for n in sup.terminated]
    for name in sup.children:
        inner = sup.target(name)
        if isinstance(inner, Supervisor) and name not in sup.terminated:
            out += _terminated(inner, f"{prefix}{name}.")
    return out
