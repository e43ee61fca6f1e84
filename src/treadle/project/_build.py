"""From a :class:`ProjectConfig` to an un-started Supervisor tree: :func:`build_tree`.

Owns the mapping of each table onto the core's specs: a process → a
:class:`~treadle.ProcessSpec` (a factory: a fresh Process per start) with relative paths
resolved against the project's directory and its health check (an ``artifact``
resolved here, once per build, by :func:`treadle.artifacts.resolve`); a loop → a factory of
fresh loops (:mod:`._targets`); a nested supervisor → a Supervisor instance; each wrapped
in a :class:`~treadle.ChildSpec`. The root is named after the project and carries the
limiters. Profiles select children as :mod:`._layout` says. A spec the core refuses is a
:class:`~treadle.ConfigError` at the key in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._backoff import DEFAULT_BACKOFF
from .._exceptions import ConfigError
from ..artifacts import ArtifactError, resolve
from ..process import CommandCheck, FileHeartbeat, HealthCheck, HttpCheck, ProcessSpec, TcpCheck
from ..supervisor import ChildSpec, Supervisor, Target
from ._config import ChildInfo, ProjectConfig
from ._layout import SECTIONS
from ._schema import BackoffConfig, HealthConfig, LoopConfig, ProcessConfig, SupervisorOptions
from ._targets import loop_factory
from ._validate import check_profiles, tcp_address

__all__ = ["build_child", "build_tree"]

_KEYS = {"argv": "command", "name": ""}  # a core field → its key in the table


def build_tree(
    config: ProjectConfig,
    *,
    profiles: Sequence[str] = (),
    record_dir: str | None = None,
    log_dir: Path | None = None,
    leader: Callable[[], bool] | None = None,
) -> Supervisor:
    """The project as an un-started Supervisor (enter it with ``async with``).

    Args:
        profiles: the profiles to run; empty: those selected when loading.
        record_dir: where process children keep their records, so that a manager's
            ``reap_leftovers(record_dir)`` can clean up after a crash.
        log_dir: where a process whose table names no ``stdout`` writes its output
            (stdout and stderr, to ``NAME.log``); None: nowhere but its ring.
        leader: whether this process leads its fleet now, for ``leader_only`` loops
            (None: always).

    Raises:
        ConfigError: a loop target that does not import or is not a loop, a profile
            selection that leaves out a dependency, or a spec the core refuses.
    """
    selected = tuple(profiles) or config.profiles
    found = check_profiles(config.file, selected)
    if found:
        raise config.error(found[0].path, found[0].message, found[0].suggestion)
    children = config.children(selected)
    specs = [
        _spec(config, info, children, _Files(record_dir, log_dir, leader))
        for info in children.values()
        if info.parent is None
    ]
    tree = _supervisor(config, (), config.name, config.supervisor, specs)
    for name, capacity in config.limiters.items():
        tree.limits.configure(name, capacity)
    return tree


def build_child(
    config: ProjectConfig,
    name: str,
    *,
    record_dir: str | None = None,
    log_dir: Path | None = None,
    leader: Callable[[], bool] | None = None,
) -> ChildSpec:
    """The ChildSpec of one child (under the selected profiles), for adding it to a
    running tree after a reload; a supervisor comes with its children."""
    children = config.children()
    if name not in children:
        raise ConfigError(name, f"no such child in {config.path} (children: {list(children)})")
    return _spec(config, children[name], children, _Files(record_dir, log_dir, leader))


@dataclass(frozen=True)
class _Files:
    """Where children's files go, and what a ``leader_only`` loop asks."""

    record_dir: str | None
    log_dir: Path | None
    leader: Callable[[], bool] | None = None


def _spec(
    config: ProjectConfig,
    info: ChildInfo,
    children: dict[str, ChildInfo],
    files: _Files,
) -> ChildSpec:
    at = (SECTIONS[info.kind], info.name)
    try:
        if isinstance(info.config, LoopConfig):
            return _loop(config, info.name, info.config, files.leader)
        if isinstance(info.config, ProcessConfig):
            return _process(config, info.name, info.config, files)
        sub = info.config
        inner = [
            _spec(config, children[c], children, files)
            for c in sub.children
            if c in children and children[c].parent == info.name
        ]
        return ChildSpec(
            _supervisor(config, at, info.name, sub, inner),
            name=info.name,
            restart=sub.restart,
            backoff=sub.backoff.to_backoff() if sub.backoff else DEFAULT_BACKOFF,
            shutdown_timeout=sub.shutdown_timeout,
            depends_on=sub.depends_on,
            priority=sub.priority,
        )
    except ConfigError as exc:
        if exc.file is not None:  # already placed
            raise
        key = _KEYS.get(exc.field, exc.field)
        path = (*at, *key.split(".")) if key else at
        raise config.error(path, exc.message) from None


def _supervisor(
    config: ProjectConfig,
    at: tuple[str, ...],
    name: str,
    options: SupervisorOptions,
    children: list[ChildSpec],
) -> Supervisor:
    try:
        return Supervisor(
            children,
            name=name,
            strategy=options.strategy,
            intensity=options.intensity,
            period=options.period,
            escalate=options.escalate,
            cancel_grace=options.cancel_grace,
            max_concurrent=options.max_concurrent,
            memory_soft_limit=options.memory_soft_limit,
            degrade_priority=options.degrade_priority,
            watchdog=options.watchdog,
        )
    except ConfigError as exc:  # e.g. a dependency the checks could not see
        raise config.error(at or ("supervisor",), str(exc)) from None


def _loop(
    config: ProjectConfig, name: str, loop: LoopConfig, leader: Callable[[], bool] | None
) -> ChildSpec:
    factory = loop_factory(config, name, loop, leader)
    return _worker(factory, name, loop, loop.restart_backoff, loop.heartbeat_timeout)


def _process(config: ProjectConfig, name: str, p: ProcessConfig, files: _Files) -> ChildSpec:
    health = p.health
    stdout = _path(config.root, p.stdout)
    stderr = _path(config.root, p.stderr)
    if stdout is None and files.log_dir is not None:  # into the project's logs by default:
        stdout = str(files.log_dir / f"{name}.log")  # both streams, each line tagged
        stderr = stderr or (None if p.merge_output else stdout)
    spec = ProcessSpec(
        argv=p.argv() if p.artifact is None else _artifact_argv(config, name, p),
        name=name,
        function=p.function,
        args=p.args if p.artifact is None else None,
        shell=p.shell,
        env={**config.dotenv, **p.env},
        inherit_env=p.inherit_env,
        cwd=_path(config.root, p.cwd) or str(config.root),
        umask=-1 if p.umask is None else p.umask,
        user=p.user,
        group=p.group,
        stop_signal=p.stop_signal,
        stop_timeout=p.stop_timeout,
        kill_group=p.kill_group,
        stdout=stdout,
        stderr=stderr,
        merge_output=p.merge_output,
        log_max_bytes=p.log_max_bytes,
        log_backups=p.log_backups,
        normal_exit_codes=p.normal_exit_codes,
        sha256=p.sha256,
        health=_check(config.root, health) if health else None,
        memory_limit=p.memory_limit,
        cpu_limit=p.cpu_limit,
        record_dir=files.record_dir,
    )
    return _worker(spec, name, p, p.backoff)


def _worker(
    target: Target,
    name: str,
    c: LoopConfig | ProcessConfig,
    backoff: BackoffConfig | None,
    heartbeat_timeout: float | None = None,
) -> ChildSpec:
    """The child for a loop's or a process's table: what every worker table says alike."""
    health = c.health
    return ChildSpec(
        target,
        name=name,
        restart=c.restart,
        backoff=backoff.to_backoff() if backoff else DEFAULT_BACKOFF,
        shutdown_timeout=c.shutdown_timeout,
        depends_on=c.depends_on,
        heartbeat_timeout=heartbeat_timeout,
        priority=c.priority,
        replicas=c.replicas,
        pool=c.scale is not None,  # a scalable pool, even of one
        health_interval=health.interval if health else None,
        health_timeout=health.timeout if health else 5.0,
        health_failures=health.failures if health else 3,
    )


def _artifact_argv(config: ProjectConfig, name: str, p: ProcessConfig) -> tuple[str, ...]:
    """The artifact's executable, resolved now (a local build, the cache or a download),
    and its args: one that cannot be resolved fails the build at its key."""
    assert p.artifact is not None
    table = config.file.artifacts[p.artifact]
    try:
        found = resolve(table.to_artifact(p.artifact), root=config.root)
    except ArtifactError as exc:
        raise config.error(("processes", name, "artifact"), str(exc)) from exc
    return (str(found.path), *(str(a) for a in p.args or ()))


def _check(root: Path, h: HealthConfig) -> HealthCheck:
    """The check a health table names (validation made sure there is exactly one)."""
    if h.http is not None:
        return HttpCheck(h.http, status=h.status, timeout=h.timeout)
    if h.tcp is not None:
        host, port = tcp_address(h.tcp)
        return TcpCheck(port, host)
    if h.command is not None:  # a string is a shell command line, as Compose's healthcheck
        argv = ("/bin/sh", "-c", h.command) if isinstance(h.command, str) else h.command
        return CommandCheck(argv)
    assert h.file is not None
    assert h.max_age is not None
    return FileHeartbeat(_path(root, h.file) or h.file, h.max_age)


def _path(root: Path, value: str | None) -> str | None:
    """``value`` against the project's directory (``~`` expanded); None stays None."""
    return None if value is None else str(root / Path(value).expanduser())
