"""The rules that span keys or tables, checked once the models have validated.

Owns: child names (their form, and one name for one child across loops, processes and
supervisors), command or function or artifact (declared, with a list of args), each
artifact table's rules, health checks, scale bounds, the supervisor tree
(unknown or twice-claimed children, supervisors inside themselves), ``depends_on``
(unknown names, non-siblings, cycles), profiles, the dashboard's binding and the broker
URL. Each rule returns :class:`Problem`s at the key path to blame; nothing here knows the
file (the loader places them) or imports user code (the build does).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from typing import Final

from .._exceptions import ConfigError
from ._errors import Problem, closest
from ._layout import SECTIONS, Kind, child_configs, declared_profiles, dependency, included, parents
from ._locate import KeyPath
from ._schema import BackoffConfig, HealthConfig, ProcessConfig, ProjectFile
from ._spelled import spelled

__all__ = ["check", "check_profiles", "tcp_address"]

_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_CHECKS: Final = ("http", "tcp", "command", "file")


def check(f: ProjectFile) -> list[Problem]:
    """Every problem in ``f`` that its models could not see alone."""
    found = [
        *_names(f),
        *_artifacts(f),
        *_processes(f),
        *_loops(f),
        *_backoffs(f),
        *_scales(f),
        *_dashboard(f),
        *_broker(f),
    ]
    tree = list(_tree(f))
    return found + tree if tree else found + list(_dependencies(f))


def check_profiles(f: ProjectFile, selected: Sequence[str]) -> list[Problem]:
    """Selected profiles must exist, and no kept child may depend on one left out."""
    declared = declared_profiles(f)
    found = [
        Problem(
            ("profiles",),
            f"unknown profile {p!r} (declared: {', '.join(sorted(declared)) or 'none'})",
            closest(p, declared),
        )
        for p in selected
        if p not in declared
    ]
    kept = included(f, selected)
    configs = child_configs(f)
    for name in sorted(kept):
        kind, config = configs[name]
        for i, entry in enumerate(config.depends_on):
            dep_kind, dep = dependency(entry)
            if dep_kind != "state" and dep in configs and dep not in kept:
                chosen = ", ".join(selected) or "none"
                found.append(
                    Problem(
                        (SECTIONS[kind], name, "depends_on", i),
                        f"{name!r} depends on {dep!r}, which the selected profiles "
                        f"({chosen}) leave out (its profiles: "
                        f"{', '.join(configs[dep][1].profiles) or 'none, but its supervisor is'})",
                    )
                )
    return found


def tcp_address(value: str) -> tuple[str, int]:
    """``"host:port"``, ``":port"`` or ``"port"`` as (host, port); ValueError if neither."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'must be "host:port" or a port number, got {spelled(value)}')
    return host.strip("[]") or "127.0.0.1", int(port)


RESERVED = frozenset({"treadle", "dashboard"})  # treadle.log; the manager's own service


def _names(f: ProjectFile) -> Iterator[Problem]:
    first: dict[str, str] = {}
    for section, table in (("loops", f.loops), ("processes", f.processes)):
        for name in table:
            yield from _name(section, name, first)
    for name in f.supervisors:
        yield from _name("supervisors", name, first)


def _name(section: str, name: str, first: dict[str, str]) -> Iterator[Problem]:
    if not _NAME.fullmatch(name):
        yield Problem(
            (section, name),
            f"{name!r} is not a valid child name: use letters, digits, '_' and '-'",
        )
    if name in RESERVED:
        yield Problem(
            (section, name),
            f"{name!r} is treadle's own name (its log is .treadle/logs/{name}.log): choose another",
        )
    if name in first:
        yield Problem(
            (section, name),
            f"{name!r} is already declared in [{first[name]}.{name}]: a name may be used "
            "once across loops, processes and supervisors",
        )
    first.setdefault(name, section)


def _processes(f: ProjectFile) -> Iterator[Problem]:
    for name, p in f.processes.items():
        at = ("processes", name)
        if p.artifact is not None:
            yield from _runs_artifact(f, at, p)
        elif p.command is None and p.function is None:
            yield Problem((*at, "command"), "give command (a command line or list) or function")
        elif p.command is not None and p.function is not None:
            yield Problem((*at, "function"), "give command or function, not both")
        if p.args is not None and p.function is None and p.artifact is None:
            yield Problem((*at, "args"), "args is for function; put a command's in command")
        if p.shell and not isinstance(p.command, str):
            yield Problem((*at, "shell"), "shell = true needs command as one string")
        if p.health is not None:
            yield from _health((*at, "health"), p.health)


def _artifacts(f: ProjectFile) -> Iterator[Problem]:
    """Each artifact table's own rules (names that make file names, the URL template)."""
    for name, table in f.artifacts.items():
        try:
            table.to_artifact(name)
        except ConfigError as exc:  # "name" is the table's own name, not a key in it
            key = () if exc.field == "name" else tuple(exc.field.split("."))
            yield Problem(("artifacts", name, *key), exc.message)


def _runs_artifact(f: ProjectFile, at: KeyPath, p: ProcessConfig) -> Iterator[Problem]:
    """A process that runs an artifact: a declared one, with its arguments in ``args``."""
    assert p.artifact is not None
    for key in ("command", "function"):
        if getattr(p, key) is not None:
            yield Problem((*at, key), f"give artifact or {key}, not both")
    if p.sha256 is not None:
        yield Problem(
            (*at, "sha256"),
            f"an artifact's digests are in its table: [artifacts.{p.artifact}] sha256 = "
            "{ PLATFORM = DIGEST }",
        )
    if p.artifact not in f.artifacts:
        declared = ", ".join(sorted(f.artifacts)) or "none"
        yield Problem(
            (*at, "artifact"),
            f"unknown artifact {p.artifact!r} (declared in [artifacts.NAME]: {declared})",
            closest(p.artifact, f.artifacts),
        )
    if isinstance(p.args, dict):
        yield Problem((*at, "args"), "an artifact's args are a list of arguments")
        return
    for i, arg in enumerate(p.args or ()):
        if isinstance(arg, bool) or not isinstance(arg, str | int | float):
            yield Problem(
                (*at, "args", i), f"an argument is a string or a number, got {spelled(arg)}"
            )


def _health(at: tuple[str, ...], h: HealthConfig) -> Iterator[Problem]:
    given = [k for k in _CHECKS if getattr(h, k) is not None]
    if not given:
        yield Problem(at, "give one check: http, tcp, command or file")
    elif len(given) > 1:
        yield Problem((*at, given[1]), f"give one check, not both {given[0]} and {given[1]}")
    if h.file is not None and h.max_age is None:
        yield Problem((*at, "max_age"), "a file check needs max_age (how stale is too stale)")
    if h.max_age is not None and h.file is None:
        yield Problem((*at, "max_age"), "max_age is for a file check")
    if h.http is not None and not h.http.startswith(("http://", "https://")):
        yield Problem((*at, "http"), f"must be an http:// or https:// URL, got {spelled(h.http)}")
    if h.tcp is not None:
        try:
            tcp_address(h.tcp)
        except ValueError as exc:
            yield Problem((*at, "tcp"), str(exc))


def _loops(f: ProjectFile) -> Iterator[Problem]:
    for name, loop in f.loops.items():
        h = loop.health
        if h is not None:
            for key in _CHECKS:
                if getattr(h, key) is not None:
                    yield Problem(
                        ("loops", name, "health", key),
                        "a loop is checked by its own health() method: "
                        "give only interval, timeout and failures",
                    )


def _backoffs(f: ProjectFile) -> Iterator[Problem]:
    """Backoff's own rules (max >= initial), at the key that breaks them."""
    tables: list[tuple[KeyPath, BackoffConfig | None]] = []
    for name, loop in f.loops.items():
        tables += [(("loops", name, "backoff"), loop.backoff)]
        tables += [(("loops", name, "restart_backoff"), loop.restart_backoff)]
    tables += [(("processes", n, "backoff"), p.backoff) for n, p in f.processes.items()]
    tables += [(("supervisors", n, "backoff"), s.backoff) for n, s in f.supervisors.items()]
    for at, table in tables:
        if table is not None:
            try:
                table.to_backoff()
            except ConfigError as exc:
                yield Problem((*at, exc.field.removeprefix("backoff.")), exc.message)


def _scales(f: ProjectFile) -> Iterator[Problem]:
    for section, table in (("loops", f.loops), ("processes", f.processes)):
        for name, child in table.items():
            scale = child.scale
            if scale is None:
                continue
            if scale.max is not None and scale.min > scale.max:
                yield Problem(
                    (section, name, "scale", "min"),
                    f"min ({scale.min}) is more than max ({scale.max})",
                )
            elif child.replicas < scale.min or (scale.max and child.replicas > scale.max):
                yield Problem(
                    (section, name, "replicas"),
                    f"{child.replicas} is outside scale ({scale.min} to {scale.max or 'any'})",
                )


def _tree(f: ProjectFile) -> Iterator[Problem]:
    names = child_configs(f)
    owner: dict[str, str] = {}
    for sup, config in f.supervisors.items():
        for i, child in enumerate(config.children):
            at = ("supervisors", sup, "children", i)
            if child == sup:
                yield Problem(at, f"supervisor {sup!r} cannot contain itself")
            elif child not in names:
                yield Problem(at, f"unknown child {child!r}", closest(child, names))
            elif child in owner:
                yield Problem(at, f"{child!r} already belongs to supervisor {owner[child]!r}")
            else:
                owner[child] = sup
    up = parents(f)
    for sup in f.supervisors:
        chain, above = [sup], up[sup]
        while above is not None and above not in chain:
            chain.append(above)
            above = up[above]
        if above == sup:
            cycle = " → ".join([*chain, sup])
            yield Problem(
                ("supervisors", sup, "children"), f"supervisors contain each other: {cycle}"
            )


def _dependencies(f: ProjectFile) -> Iterator[Problem]:
    configs = child_configs(f)
    up = parents(f)
    graph: dict[str, list[tuple[int, str]]] = {}
    for name, (kind, config) in configs.items():
        graph[name] = []
        for i, entry in enumerate(config.depends_on):
            at = (SECTIONS[kind], name, "depends_on", i)
            dep_kind, dep = dependency(entry)
            if not dep:
                yield Problem(at, f"{entry!r} names nothing after '{dep_kind}:'")
            elif dep_kind == "state":
                continue
            elif dep == name:
                yield Problem(at, f"{name!r} cannot depend on itself")
            elif dep not in configs:
                yield Problem(at, f"unknown child {dep!r}", closest(dep, configs))
            elif up[dep] != up[name]:
                yield Problem(
                    at,
                    f"{dep!r} is under {_where(up[dep])} but {name!r} is under "
                    f"{_where(up[name])}: depends_on orders children of one supervisor",
                )
            else:
                graph[name].append((i, dep))
    yield from _cycles(graph, {name: kind for name, (kind, _) in configs.items()})


def _where(sup: str | None) -> str:
    return f"supervisor {sup!r}" if sup else "the root supervisor"


def _cycles(graph: dict[str, list[tuple[int, str]]], kinds: dict[str, Kind]) -> Iterator[Problem]:
    """The first cycle found (one is enough to fix at a time), at the edge that closes it."""
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> Problem | None:
        stack.append(node)
        for i, dep in graph[node]:
            if dep in stack:
                cycle = " → ".join([*stack[stack.index(dep) :], dep])
                at = (SECTIONS[kinds[node]], node, "depends_on", i)
                return Problem(at, f"dependency cycle: {cycle}")
            if dep not in done and (found := visit(dep, stack)) is not None:
                return found
        stack.pop()
        done.add(node)
        return None

    for start in graph:
        if start not in done and (problem := visit(start, [])) is not None:
            yield problem
            return


def _dashboard(f: ProjectFile) -> Iterator[Problem]:
    d = f.dashboard
    if not _loopback(d.host) and not d.token:
        yield Problem(
            ("dashboard", "token"),
            f"binding {d.host} needs dashboard.token (anyone who can reach it could "
            "control the tree); set one, or bind 127.0.0.1",
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _broker(f: ProjectFile) -> Iterator[Problem]:
    broker = f.project.broker
    if broker and "://" in broker and not broker.startswith(("postgresql://", "postgres://")):
        yield Problem(
            ("project", "broker"),
            f"must be a file path or a postgresql:// URL, got {spelled(broker)}",
        )
