from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], turns: int = 1000) -> None:
    """Yield to the loop until ``condition`` holds; fail (not hang) if it never does."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")
