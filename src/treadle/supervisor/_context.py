"""``current_child()``: the supervised child that the running code belongs to.

Owns the context variable that a supervisor built with ``child_context=True`` sets in the
task of each of its children: the child's path (``shop.prices``, ``shop.worker[1]``). The
tasks a child starts and the threads it hands work to (``asyncio.to_thread``) copy their
context, so they answer the same. A project uses it to give a loop's ``print()`` and
``logging`` to that loop's log. It is off by default: a context of its own costs every
child task ~250 bytes, and a tree of 100,000 idle loops counts them. It does not route
output anywhere itself (the project's logs do, by asking it).
"""

from __future__ import annotations

import contextvars
from contextvars import ContextVar

__all__ = ["child_context", "current_child"]

_current: ContextVar[str | None] = ContextVar("treadle_child", default=None)


def current_child() -> str | None:
    """The path of the supervised child whose task runs this code, if its supervisor
    names its children's tasks (``Supervisor(child_context=True)``); else None."""
    return _current.get()


def child_context(path: str) -> contextvars.Context:
    """A copy of the current context in which :func:`current_child` answers ``path``."""
    ctx = contextvars.copy_context()
    ctx.run(_current.set, path)
    return ctx
