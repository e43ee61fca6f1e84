"""``depends_on``: which siblings a child needs, and which of its conditions are unmet.

Owns the reading of ``depends_on`` against a live tree: sibling and pool names (ordering for
start and stop), ``healthy:NAME`` and ``state:KEY`` conditions, and waiting for them. The
pure graph checks (unknown names, cycles, levels) are in ``_policy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..health._health import HealthStatus
from ._registry import members
from ._spec import dependency

if TYPE_CHECKING:
    from ._child import Child
    from ._supervisor import Supervisor

__all__ = ["deps_of", "graph", "has_dependencies", "unmet", "wait_for"]


def deps_of(sup: Supervisor, child: Child) -> list[str]:
    """The siblings ``child`` depends on (ordering: it starts after, stops before them)."""
    if not child.spec.depends_on:
        return []
    deps: list[str] = []
    for entry in child.spec.depends_on:
        kind, dep = dependency(entry)
        if kind != "state":
            deps.extend(members(sup, dep) if dep in sup._pools else [dep])
    return deps


def unmet(sup: Supervisor, child: Child) -> list[tuple[str, str]]:
    """The conditions of ``depends_on`` that do not hold now, as (kind, name)."""
    if not child.spec.depends_on:
        return []
    unmet: list[tuple[str, str]] = []
    for entry in child.spec.depends_on:
        kind, name = dependency(entry)
        if kind == "state":
            if not sup.shared.value(name):
                unmet.append((kind, name))
            continue
        for member in members(sup, name) if name in sup._pools else [name]:
            dep = sup._children.get(member)
            if dep is None:
                continue
            if not dep.ready or (
                kind == "healthy" and dep.current_health().status is not HealthStatus.HEALTHY
            ):
                unmet.append((kind, member))
    return unmet


async def wait_for(sup: Supervisor, kind: str, name: str) -> None:
    if kind == "state":
        await sup.shared.wait_for(name)
        return
    dep = sup._children.get(name)
    if dep is None:
        return
    if kind == "healthy":
        await dep.wait_until(
            lambda: dep.ready and dep.current_health().status is HealthStatus.HEALTHY
        )
    else:
        await dep.wait_ready()


def graph(sup: Supervisor) -> dict[str, list[str]]:
    """Every child's sibling dependencies (conditions on shared state are not edges)."""
    return {name: deps_of(sup, c) for name, c in sup._children.items()}


def has_dependencies(sup: Supervisor) -> bool:
    """Whether any child has a ``depends_on`` (a count kept by ``_registry``: O(1))."""
    return sup._dependent > 0
