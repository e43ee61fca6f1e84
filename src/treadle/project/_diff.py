"""What changed between two loads of a project: :class:`ProjectDiff` and :func:`diff`.

Owns the comparison a reload starts from: children by name and fingerprint (see
:class:`~treadle.project.ChildInfo`), and the top-level sections whose settings differ.
Applying a diff to a running tree is the caller's: stop what was removed or changed
(dependants first), then add what was added or changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._config import ProjectConfig

__all__ = ["ProjectDiff", "diff"]

_SECTIONS = ("project", "supervisor", "limiters", "dashboard", "logging")


@dataclass(frozen=True, slots=True)
class ProjectDiff:
    """Child names, each tuple in the new file's order (``removed``: the old file's).

    Attributes:
        added: in the new project only.
        removed: in the old project only.
        changed: in both, with different fingerprints (restart these).
        unchanged: in both, the same.
        sections: top-level tables whose settings differ (``supervisor``, ``limiters``,
            ``dashboard``, ``logging``, ``project``): the root tree's own options.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        """True when anything differs."""
        return bool(self.added or self.removed or self.changed or self.sections)


def diff(old: ProjectConfig, new: ProjectConfig) -> ProjectDiff:
    """Compare the children each project keeps under its own selected profiles."""
    before, after = old.children(), new.children()
    old_file, new_file = old.file.model_dump(), new.file.model_dump()
    return ProjectDiff(
        added=tuple(n for n in after if n not in before),
        removed=tuple(n for n in before if n not in after),
        changed=tuple(
            n for n in after if n in before and after[n].fingerprint != before[n].fingerprint
        ),
        unchanged=tuple(
            n for n in after if n in before and after[n].fingerprint == before[n].fingerprint
        ),
        sections=tuple(s for s in _SECTIONS if old_file[s] != new_file[s]),
    )
