"""``current_child()``: code knows which supervised child it runs for, when asked to."""

from __future__ import annotations

import asyncio

from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor, current_child

from ._support import FAST


class _Seen(Loop):
    """Records what current_child() answers in its task, a task it starts and a thread."""

    def __init__(self, seen: dict[str, list[str | None]], done: asyncio.Event) -> None:
        super().__init__(name="seer", interval=60)
        self.seen = seen
        self.done = done

    async def run_once(self) -> None:
        async def sub() -> str | None:
            return current_child()

        self.seen["task"].append(current_child())
        self.seen["subtask"].append(await asyncio.create_task(sub()))
        self.seen["thread"].append(await asyncio.to_thread(current_child))
        self.done.set()


async def _run(child_context: bool, nested: bool = False) -> dict[str, list[str | None]]:
    seen: dict[str, list[str | None]] = {"task": [], "subtask": [], "thread": []}
    done = asyncio.Event()
    child = ChildSpec(lambda: _Seen(seen, done), name="seer", backoff=FAST)
    if nested:
        inner = Supervisor([child], name="inner")
        sup = Supervisor([ChildSpec(inner)], name="root", child_context=child_context)
    else:
        sup = Supervisor([child], name="root", child_context=child_context)
    async with sup:
        await done.wait()
        assert current_child() is None  # the supervisor's own caller is no child
    return seen


async def test_a_child_its_tasks_and_threads_know_its_path() -> None:
    seen = await _run(True)
    assert seen == {"task": ["root.seer"], "subtask": ["root.seer"], "thread": ["root.seer"]}


async def test_a_nested_supervisor_inherits_it() -> None:
    seen = await _run(True, nested=True)
    assert seen["task"] == ["root.inner.seer"]


async def test_it_is_off_by_default() -> None:
    seen = await _run(False)
    assert seen == {"task": [None], "subtask": [None], "thread": [None]}


async def test_a_child_that_waits_for_a_dependency_knows_it_too() -> None:
    seen: dict[str, list[str | None]] = {"task": [], "subtask": [], "thread": []}
    done = asyncio.Event()

    async def first() -> None:
        await asyncio.Event().wait()

    sup = Supervisor(
        [
            ChildSpec(first, name="first", backoff=FAST),
            ChildSpec(lambda: _Seen(seen, done), name="seer", depends_on=("first",)),
        ],
        name="root",
        child_context=True,
    )
    async with sup:
        await done.wait()
    assert seen["task"] == ["root.seer"]
