from __future__ import annotations

from collections.abc import Callable

from treadle import Backoff, Jitter, State, Transition
from treadle.supervisor import Supervisor

FAST = Backoff(initial=0, max=0, jitter=Jitter.NONE)


async def wait_state(sup: Supervisor, name: str, *states: State) -> None:
    """Wait, on the event stream (not by polling), until ``name`` is in one of ``states``."""
    with sup.events(maxsize=10_000) as events:
        if sup.child_state(name) in states:
            return
        async for msg in events:
            t = msg.payload
            assert isinstance(t, Transition)
            if t.name.endswith(f".{name}") and t.to in states:
                return


async def wait_for(sup: Supervisor, predicate: Callable[[], bool]) -> None:
    """Wait until ``predicate()`` holds, re-checking after every bus message (lifecycle
    transitions and health verdicts)."""
    with sup.bus.subscribe("*", maxsize=10_000) as events:
        while not predicate():
            await events.get()
