"""The shape of the tree a file describes: what kind each child is, which supervisor
holds it, in what order, and which children a profile selection keeps.

Owns these pure derivations over a :class:`ProjectFile`; it assumes the file passed
:mod:`._validate`'s structural checks (it never loops on a bad tree, but may give a
meaningless answer for one). Building anything is :mod:`._build`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, TypeAlias

from ._schema import LoopConfig, ProcessConfig, ProjectFile, SupervisorConfig

__all__ = [
    "SECTIONS",
    "ChildConfig",
    "Kind",
    "child_configs",
    "declared_profiles",
    "dependency",
    "included",
    "parents",
    "tree_order",
]

Kind: TypeAlias = Literal["loop", "process", "supervisor"]
ChildConfig: TypeAlias = LoopConfig | ProcessConfig | SupervisorConfig
SECTIONS: dict[Kind, str] = {"loop": "loops", "process": "processes", "supervisor": "supervisors"}


def child_configs(f: ProjectFile) -> dict[str, tuple[Kind, ChildConfig]]:
    """Every declared child by name, with its kind (a name used twice: the first kept)."""
    found: dict[str, tuple[Kind, ChildConfig]] = {}
    sections: list[tuple[Kind, Mapping[str, ChildConfig]]] = [
        ("loop", f.loops),
        ("process", f.processes),
        ("supervisor", f.supervisors),
    ]
    for kind, table in sections:
        for name, config in table.items():
            found.setdefault(name, (kind, config))
    return found


def parents(f: ProjectFile) -> dict[str, str | None]:
    """Each child's supervisor (None: the root); the first claim wins."""
    out: dict[str, str | None] = dict.fromkeys(child_configs(f))
    claimed: set[str] = set()
    for sup, config in f.supervisors.items():
        for child in config.children:
            if child in out and child not in claimed and child != sup:
                out[child] = sup
                claimed.add(child)
    return out


def dependency(entry: str) -> tuple[str, str]:
    """A ``depends_on`` entry as (kind, name): kind is ``child``, ``healthy`` or ``state``."""
    for kind in ("healthy", "state"):
        if entry.startswith(kind + ":"):
            return kind, entry[len(kind) + 1 :]
    return "child", entry


def declared_profiles(f: ProjectFile) -> set[str]:
    return {p for _, config in child_configs(f).values() for p in config.profiles}


def included(f: ProjectFile, selected: Iterable[str]) -> set[str]:
    """The children a selection keeps: those with no profiles or one selected, whose
    supervisors are kept too (Compose's semantics)."""
    chosen = set(selected)
    configs = child_configs(f)
    up = parents(f)

    def kept(name: str, seen: frozenset[str]) -> bool:
        profiles = configs[name][1].profiles
        if profiles and chosen.isdisjoint(profiles):
            return False
        parent = up[name]
        return parent is None or (parent not in seen and kept(parent, seen | {parent}))

    return {name for name in configs if kept(name, frozenset({name}))}


def tree_order(f: ProjectFile, order: Sequence[str]) -> list[str]:
    """Every child, depth first: a supervisor's children (in its ``children`` order)
    right after it; the root's children in ``order`` (their order in the file)."""
    up = parents(f)
    out: list[str] = []

    def visit(name: str) -> None:
        out.append(name)
        sup = f.supervisors.get(name)
        if sup is not None:
            for child in dict.fromkeys(sup.children):
                if up.get(child) == name and child not in out:
                    visit(child)

    for name in order:
        if name in up and up[name] is None:
            visit(name)
    return out
