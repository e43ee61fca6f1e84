"""``@loop``: turn an async function into a :class:`Loop`.

Owns :class:`FunctionLoop` and the :func:`loop` decorator; all behaviour is :class:`Loop`'s:
it adds none of its own and keeps no state but the function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, overload

from ._loop import Loop

__all__ = ["FunctionLoop", "loop"]

AsyncFn = Callable[[], Awaitable[None]]


class FunctionLoop(Loop):
    """A :class:`Loop` whose ``run_once`` is a plain async function."""

    __slots__ = ("_fn",)

    def __init__(self, fn: AsyncFn, **options: Any) -> None:
        options.setdefault("name", getattr(fn, "__name__", None))
        super().__init__(**options)
        self._fn = fn

    async def run_once(self) -> None:
        await self._fn()


@overload
def loop(fn: AsyncFn, /) -> FunctionLoop: ...
@overload
def loop(
    *,
    interval: float = ...,
    name: str | None = ...,
    **options: Any,
) -> Callable[[AsyncFn], FunctionLoop]: ...
def loop(
    fn: AsyncFn | None = None, /, **options: Any
) -> FunctionLoop | Callable[[AsyncFn], FunctionLoop]:
    """Decorate ``async def f(): ...`` so that ``f`` becomes a Loop running it.

    ``@loop`` alone uses the defaults; ``@loop(interval=5, backoff=...)`` takes any
    :class:`Loop` option. The result is one loop instance: for a pool of replicas, give the
    supervisor a factory such as ``lambda: FunctionLoop(work, interval=5)``.
    """
    if fn is not None:
        return FunctionLoop(fn, **options)

    def decorate(f: AsyncFn) -> FunctionLoop:
        return FunctionLoop(f, **options)

    return decorate
