"""Pure supervision policy: dependency checks and levels, and which siblings a restart takes.

Functions of names only, no tasks and no clock, so hypothesis can check them. Nothing here
starts, stops or waits for anything (``_restarts``, ``_shutdown``, ``_dependencies`` do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .._exceptions import DependencyError
from ._spec import Strategy

__all__ = ["affected", "check_dependencies", "levels"]


def check_dependencies(deps: Mapping[str, Sequence[str]]) -> None:
    """Raise :class:`DependencyError` for an unknown name or a cycle (naming its path)."""
    for name, needs in deps.items():
        for dep in needs:
            if dep not in deps:
                raise DependencyError(
                    f"{name}.depends_on", f"unknown child {dep!r} (known: {sorted(deps)})"
                )
    levels(deps)


def levels(deps: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Start level of every name: 0 without dependencies, else 1 + the deepest dependency.

    Start level by level upwards, stop downwards. Raises :class:`DependencyError` on a cycle.
    Names missing from ``deps`` are treated as level 0 leaves.
    """
    level: dict[str, int] = {}
    for root in deps:
        if root in level:
            continue
        # Iterative DFS: a deep chain must not hit the recursion limit.
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            needs = deps.get(node, ())
            if i == 0:
                if node in on_path:
                    cycle = [*path[path.index(node) :], node]
                    raise DependencyError(f"{cycle[0]}.depends_on", f"cycle: {' -> '.join(cycle)}")
                path.append(node)
                on_path.add(node)
            if i < len(needs):
                stack.append((node, i + 1))
                dep = needs[i]
                if dep not in level:
                    stack.append((dep, 0))
                continue
            level[node] = 1 + max((level[d] for d in needs), default=-1)
            path.pop()
            on_path.discard(node)
    return level


def affected(strategy: Strategy, failed: str, order: Sequence[str]) -> list[str]:
    """The children restarted when ``failed`` fails, in start order (``failed`` included)."""
    if strategy is Strategy.ONE_FOR_ONE or failed not in order:
        return [failed]
    if strategy is Strategy.ONE_FOR_ALL:
        return list(order)
    return list(order[order.index(failed) :])
