"""Supervision: trees of children with restart policies, strategies and intensity."""

from ._adopt import Adoption as Adoption
from ._context import current_child as current_child
from ._coroutine import CoroutineTarget as CoroutineTarget
from ._run import run as run
from ._run import run_coroutine as run_coroutine
from ._run import serve as serve
from ._spec import ChildSpec as ChildSpec
from ._spec import Restart as Restart
from ._spec import Strategy as Strategy
from ._spec import Target as Target
from ._supervisor import Supervisor as Supervisor

__all__ = [
    "Adoption",
    "ChildSpec",
    "CoroutineTarget",
    "Restart",
    "Strategy",
    "Supervisor",
    "Target",
    "current_child",
    "run",
    "run_coroutine",
    "serve",
]
