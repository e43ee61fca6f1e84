"""An operator's operations on a running tree: pause, resume, add, remove, terminate,
restart, scale.

Owns what :class:`Supervisor`'s methods of the same names do: each is an operator's
decision, taken at once, with no backoff and no intensity check, and each names what it
acts on (a child, or a pool: its members). What happens on its own (a crash, a restart by
policy) is ``_restarts``'s; how children stop is ``_shutdown``'s; names are ``_registry``'s.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from .._exceptions import ChildNotFound, ConfigError, DependencyError
from .._lifecycle import State, check_transition
from ._dependencies import deps_of, has_dependencies
from ._monitor import ensure_monitor
from ._registry import forget, lookup, members, new_child, register
from ._restarts import spawn
from ._shutdown import stop_children
from ._spec import ChildSpec, Target, as_spec, dependency

if TYPE_CHECKING:
    from ._child import Child
    from ._supervisor import Supervisor

__all__ = ["add", "pause", "remove", "restart", "resume", "scale", "terminate"]


def pause(sup: Supervisor, name: str | None, reason: str) -> None:
    """Pause one child (a pool: its running members), or (no name) every running child
    that can pause."""
    for child in _selected(sup, name, State.RUNNING):
        _pause(child, "paused" if name is None else reason)


def _pause(child: Child, reason: str) -> None:
    check_transition(child.name, child.state, State.PAUSED)  # before the target is touched
    assert child.target is not None
    child.target.pause()
    child.move(State.PAUSED, reason)


def resume(sup: Supervisor, name: str | None, reason: str) -> None:
    """Resume one child (a pool: its paused members), or (no name) every paused child."""
    for child in _selected(sup, name, State.PAUSED):
        _resume(child, "resumed" if name is None else reason)


def _selected(sup: Supervisor, name: str | None, state: State) -> list[Child]:
    """What an operation on ``name`` acts on: that child; a pool's members in ``state``;
    or (no name) every child in ``state`` that can pause."""
    if name is None:
        return [c for c in sup._children.values() if c.state is state and c.pausable]
    if name in sup._pools:
        return [c for n in members(sup, name) if (c := sup._children[n]).state is state]
    return [lookup(sup, name)]


def _resume(child: Child, reason: str) -> None:
    check_transition(child.name, child.state, State.RUNNING)
    assert child.target is not None
    child.target.resume()
    child.degraded = False
    child.move(State.RUNNING, reason)


def add(sup: Supervisor, child: ChildSpec | Target) -> list[str]:
    """Add a child (or a pool) and start it if the supervisor runs; returns the names."""
    spec = as_spec(child)
    for entry in spec.depends_on:
        kind, dep = dependency(entry)
        if kind != "state" and dep not in sup._children and dep not in sup._pools:
            raise DependencyError(
                f"{spec.name}.depends_on", f"unknown child {dep!r} (known: {sup.children})"
            )
    added = register(sup, spec)
    if sup.state is State.RUNNING:
        for c in added:
            spawn(sup, c)
        ensure_monitor(sup, added)
    return [c.name for c in added]


async def remove(sup: Supervisor, name: str) -> None:
    """Stop a child (or every member of a pool) and forget it."""
    names = members(sup, name)
    if has_dependencies(sup):  # else there is nobody to ask, however many children
        dependants = [
            c.name
            for c in sup._children.values()
            if c.name not in names and any(d in names for d in deps_of(sup, c))
        ]
        if dependants:
            raise DependencyError(name, f"cannot remove: {dependants} depend on it")
    await stop_children(sup, [sup._children[n] for n in names], "removed")
    for n in names:
        forget(sup, n)
    sup._pools.pop(name, None)


async def terminate(sup: Supervisor, name: str) -> None:
    """Stop a child (a pool: every member) and keep it stopped until :func:`restart`."""
    children = [sup._children[n] for n in members(sup, name)]
    sup._held.update(c.name for c in children)
    await stop_children(sup, children, "stopped by an operator")


async def restart(sup: Supervisor, name: str) -> None:
    """Stop and start a child (a pool: every member) now, a terminated one too."""
    children = [sup._children[n] for n in members(sup, name)]
    await stop_children(sup, children, "restart requested")
    sup._held.difference_update(c.name for c in children)
    for child in children:
        if child.state is State.GIVEN_UP:
            child.intensity = None
            child.attempt = 0
        if sup.state is State.RUNNING:
            spawn(sup, child)


async def scale(sup: Supervisor, name: str, replicas: int) -> list[str]:
    """Change a pool's size; returns the member names after the change."""
    if name not in sup._pools:
        raise ChildNotFound(f"{name!r} is not a pool (pools: {sorted(sup._pools)})")
    if replicas < 0:
        raise ConfigError("replicas", f"must be >= 0, got {replicas}")
    spec = sup._pools[name]
    current = members(sup, name)
    if replicas > len(current):
        new = [new_child(sup, spec, f"{name}[{i}]") for i in range(len(current), replicas)]
        if sup.state is State.RUNNING:
            for c in new:
                spawn(sup, c)
    else:
        extra = [sup._children[n] for n in current[replicas:]]
        await stop_children(sup, extra, "scaled down")
        for c in extra:
            forget(sup, c.name)
    sup._pools[name] = dataclasses.replace(spec, replicas=max(replicas, 1), pool=True)
    return members(sup, name)
