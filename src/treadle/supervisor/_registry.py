"""A supervisor's children by name: registering specs, finding children, naming pools.

Owns the reading and writing of ``Supervisor._children`` (name to :class:`Child`, in start
order), ``_pools`` (a pool's name to its spec; its members are ``name[i]``) and the count of
children with a ``depends_on`` (so that a tree without any pays nothing for the feature): a spec
becomes one child, or one per replica; a name is one child, or a pool's members. It does
not start or stop anything (``_restarts``, ``_shutdown``) nor check dependencies
(``_policy``, ``_dependencies``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import ChildNotFound, DuplicateChild
from ._child import Child
from ._spec import ChildSpec, member_names

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["forget", "lookup", "members", "new_child", "register"]


def register(sup: Supervisor, spec: ChildSpec) -> list[Child]:
    """Add the children ``spec`` stands for (not started); raise on a name taken."""
    if spec.name in sup._children or spec.name in sup._pools:
        raise DuplicateChild(f"{sup.path}: a child named {spec.name!r} already exists")
    if spec.replicas == 1 and not spec.pool:
        return [new_child(sup, spec, spec.name)]
    names = member_names(spec)
    for n in names:
        if n in sup._children:
            raise DuplicateChild(f"{sup.path}: a child named {n!r} already exists")
    sup._pools[spec.name] = spec
    return [new_child(sup, spec, n) for n in names]


def new_child(sup: Supervisor, spec: ChildSpec, name: str) -> Child:
    child = sup._children[name] = Child(sup, spec, name)
    if spec.depends_on:
        sup._dependent += 1
    return child


def forget(sup: Supervisor, name: str) -> None:
    """The child ``name`` (stopped) is no longer the supervisor's."""
    child = sup._children.pop(name)
    if child.spec.depends_on:
        sup._dependent -= 1
    sup._held.discard(name)


def lookup(sup: Supervisor, name: str) -> Child:
    """The child named ``name``, or :class:`ChildNotFound` naming those there are."""
    try:
        return sup._children[name]
    except KeyError:
        known = ", ".join(sup._children) or "none"
        raise ChildNotFound(f"{sup.path}: no child {name!r} (children: {known})") from None


def members(sup: Supervisor, name: str) -> list[str]:
    """The children a name stands for: a pool's members, in order, or the one child."""
    if name in sup._pools:
        prefix = f"{name}["
        return [n for n in sup._children if n.startswith(prefix)]
    return [lookup(sup, name).name]
