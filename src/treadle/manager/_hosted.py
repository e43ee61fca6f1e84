"""What a manager can host beside its tasks: :class:`Hosted`, a tree steered by name.

A project (``treadle up``) is the one kind today: ``treadle.project`` implements this
protocol, so that the manager layer runs and steers a project's tree without knowing what
a project is (layers import downward only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..supervisor import Supervisor

__all__ = ["HOSTED_OPS", "Hosted"]

# Control ops that only make sense for a hosted tree; STATUS, PAUSE, RESUME and STOP with
# a target go there too.
HOSTED_OPS = frozenset({"START", "RESTART", "SCALE", "RELOAD", "DUMP"})


@runtime_checkable
class Hosted(Protocol):
    """A supervision tree that a manager runs as one of its children.

    ``control`` acts on the tree: ``op`` is a Control op, ``target`` a child (a name or
    a dotted path), ``args`` what the op needs. It returns a short reply (the new state,
    say) and optional data (the status, the dump), and raises a TreadleError for what it
    cannot do (an unknown child, a pool scaled past its bounds).
    """

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str: ...

    def tree(self) -> Supervisor: ...

    def status(self) -> dict[str, Any]: ...

    def set_leader(self, check: Callable[[], bool]) -> None:
        """Tell the tree how to ask whether this manager leads the fleet."""

    async def control(
        self, op: str, target: str | None, args: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any] | None]: ...
