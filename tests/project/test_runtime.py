"""ProjectRuntime: a project's tree steered by name, its logs, and reload, with real
processes in a real tree (no manager: the runtime is what a manager hosts)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from treadle import ChildNotFound, ConfigError, State, TreadleError
from treadle.project import ProjectRuntime, rows
from treadle.supervisor import Supervisor

from .test_load import write

PROJECT = """
[project]
name = "shop"

[processes.web]
command = ["sh", "-c", "echo web up; echo oops >&2; exec sleep 60"]

[processes.worker]
command = ["sleep", "60"]
scale = { min = 1, max = 3 }

[supervisors.back]
children = ["indexer"]

[processes.indexer]
command = ["sleep", "60"]
"""


async def until(tree: Supervisor, condition: Callable[[], bool]) -> None:
    """Wait on the tree's lifecycle events until ``condition()`` holds."""
    async with asyncio.timeout(30):
        with tree.events() as events:
            while not condition():
                await events.get()


def running(tree: Supervisor, *names: str) -> Callable[[], bool]:
    return lambda: all(tree.child_state(n) is State.RUNNING for n in names)


async def test_children_are_steered_by_name_and_dotted_path(tmp_path: Path) -> None:
    runtime = ProjectRuntime(write(tmp_path, PROJECT))
    tree = runtime.tree()
    async with tree:
        await until(tree, running(tree, "web", "worker[0]", "back"))
        back = tree.target("back")
        assert isinstance(back, Supervisor)
        await until(back, running(back, "indexer"))

        assert await runtime.control("PAUSE", "back.indexer", {}) == ("paused", None)
        assert back.child_state("indexer") is State.PAUSED
        assert await runtime.control("RESUME", "indexer", {}) == ("running", None)
        pid = tree.status()["children"]["web"]["target"]["pid"]
        assert await runtime.control("RESTART", "web", {}) == ("restarted", None)
        await until(tree, running(tree, "web"))
        assert tree.status()["children"]["web"]["target"]["pid"] != pid

        reply, data = await runtime.control("SCALE", "worker", {"replicas": 3})
        assert (reply, data) == ("scaled", {"members": ["worker[0]", "worker[1]", "worker[2]"]})
        with pytest.raises(ConfigError, match="at least 1 and at most 3, got 4"):
            await runtime.control("SCALE", "worker", {"replicas": 4})
        with pytest.raises(ChildNotFound, match="no child 'nope'"):
            await runtime.control("RESTART", "nope", {})

        assert await runtime.control("STOP", "web", {}) == ("stopped", None)
        assert tree.child_state("web") is State.STOPPED  # kept, stopped
        assert tree.terminated == ["web"]
        status = runtime.status()
        assert status["stopped"] == ["web"]
        assert [r.name for r in rows(status)].count("web") == 1
        with pytest.raises(TreadleError, match="is stopped"):
            await runtime.control("PAUSE", "web", {})
        assert await runtime.control("START", "web", {}) == ("started", None)
        await until(tree, running(tree, "web"))
        with pytest.raises(TreadleError, match="is not stopped"):
            await runtime.control("START", "web", {})
        dump = (await runtime.control("DUMP", None, {}))[1]
        assert dump is not None
        assert dump["name"] == "shop"


async def test_process_output_goes_to_the_project_logs(tmp_path: Path) -> None:
    runtime = ProjectRuntime(write(tmp_path, PROJECT))
    runtime.start_logging()
    tree = runtime.tree()
    try:
        async with tree:
            await until(tree, running(tree, "web"))
            web = tree.target("web")
            assert web is not None
            await web.output.wait_line(lambda line: line == "oops")  # type: ignore[attr-defined]
    finally:
        runtime.stop_logging()
    lines = (tmp_path / ".treadle" / "logs" / "web.log").read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == ["stdout web up", "stderr oops"]
    lifecycle = (tmp_path / ".treadle" / "logs" / "treadle.log").read_text().splitlines()
    events = [json.loads(x.split(" ", 3)[3]) for x in lifecycle if "treadle.lifecycle" in x]
    assert {"name": "shop.web", "to": "running"}.items() <= next(
        e for e in events if e["name"] == "shop.web" and e["to"] == "running"
    ).items()


async def test_reload_starts_new_stops_gone_restarts_changed_and_leaves_the_rest(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, PROJECT)
    runtime = ProjectRuntime(path)
    tree = runtime.tree()
    async with tree:
        await until(tree, running(tree, "web", "worker[0]", "back"))
        web_pid = tree.status()["children"]["web"]["target"]["pid"]
        worker_pid = tree.status()["children"]["worker[0]"]["target"]["pid"]
        changed = PROJECT.replace(
            'command = ["sleep", "60"]\nscale', 'command = ["sleep", "61"]\nscale'
        )
        changed = changed.replace(
            "[supervisors.back]",
            '[processes.cron]\ncommand = ["sleep", "62"]\n\n[supervisors.back]',
        )
        changed = changed.replace(
            'children = ["indexer"]\n\n[processes.indexer]\ncommand = ["sleep", "60"]\n',
            "children = []\n",
        )
        write(tmp_path, changed)
        summary = await runtime.reload()
        assert summary["added"] == ["cron"]
        assert summary["removed"] == ["indexer"]
        assert summary["changed"] == ["worker"]
        assert "web" in summary["unchanged"]
        await until(tree, running(tree, "web", "worker[0]", "cron"))
        status = tree.status()["children"]
        assert status["web"]["target"]["pid"] == web_pid  # left alone
        assert status["worker[0]"]["target"]["pid"] != worker_pid  # restarted
        assert status["worker[0]"]["target"]["argv"] == ["sleep", "61"]
        back = tree.target("back")
        assert isinstance(back, Supervisor)
        assert back.children == []

        write(tmp_path, changed.replace("[processes.cron]", "[processes.cron]\nbogus = 1"))
        with pytest.raises(ConfigError, match="bogus"):
            await runtime.reload()  # a bad file changes nothing
        assert "cron" in tree.children


async def test_a_pool_member_names_its_pool_for_start_and_scale(tmp_path: Path) -> None:
    runtime = ProjectRuntime(write(tmp_path, PROJECT))
    tree = runtime.tree()
    async with tree:
        await until(tree, running(tree, "worker[0]"))
        _, data = await runtime.control("SCALE", "worker[0]", {"replicas": 2})
        assert data == {"members": ["worker[0]", "worker[1]"]}
        await until(tree, running(tree, "worker[1]"))
        with pytest.raises(TreadleError, match=r"'worker\[1\]' is not stopped \(running\)"):
            await runtime.control("START", "worker[1]", {})


def pid_of(tree: Supervisor, name: str) -> object:
    return tree.status()["children"][name]["target"]["pid"]


async def test_a_pool_member_is_stopped_started_and_restarted_by_name(tmp_path: Path) -> None:
    """Stopping worker[1] leaves the pool whole: the member stays, stopped, once in the
    status; start, restart and scale treat it as the member it is."""
    runtime = ProjectRuntime(
        write(tmp_path, PROJECT.replace("min = 1", "min = 1 }\nreplicas = 2 #"))
    )
    tree = runtime.tree()
    async with tree:
        await until(tree, running(tree, "worker[0]", "worker[1]"))
        first = pid_of(tree, "worker[0]")
        assert await runtime.control("STOP", "worker[1]", {}) == ("stopped", None)
        assert tree.child_state("worker[1]") is State.STOPPED
        names = [r.name for r in rows(runtime.status())]
        assert names.count("worker[1]") == 1
        with pytest.raises(TreadleError, match=r"'worker\[1\]' is stopped"):
            await runtime.control("PAUSE", "worker[1]", {})

        assert await runtime.control("START", "worker[1]", {}) == ("started", None)
        await until(tree, running(tree, "worker[1]"))
        second = pid_of(tree, "worker[1]")
        assert await runtime.control("RESTART", "worker[1]", {}) == ("restarted", None)
        await until(tree, running(tree, "worker[1]"))
        assert pid_of(tree, "worker[1]") != second
        assert pid_of(tree, "worker[0]") == first  # its sibling was left alone

        await runtime.control("STOP", "worker[1]", {})
        _, data = await runtime.control("SCALE", "worker", {"replicas": 3})
        assert data == {
            "members": ["worker[0]", "worker[1]", "worker[2]"],
            "stopped": ["worker[1]"],
        }
        await until(tree, running(tree, "worker[2]"))
        assert tree.child_state("worker[1]") is State.STOPPED  # still stopped, still counted
        assert await runtime.control("START", "worker", {}) == ("started", None)  # its stopped ones
        await until(tree, running(tree, "worker[1]"))
        assert pid_of(tree, "worker[0]") == first
        names = [r.name for r in rows(runtime.status())]
        assert sorted(names) == [
            "back",
            "back.indexer",
            "web",
            "worker[0]",
            "worker[1]",
            "worker[2]",
        ]
        with pytest.raises(TreadleError, match="'worker' is not stopped"):
            await runtime.control("START", "worker", {})


async def test_a_stopped_supervisor_says_so_for_its_children(tmp_path: Path) -> None:
    runtime = ProjectRuntime(write(tmp_path, PROJECT))
    tree = runtime.tree()
    async with tree:
        await until(tree, running(tree, "back"))
        assert await runtime.control("STOP", "back", {}) == ("stopped", None)
        assert runtime.status()["stopped"] == ["back"]
        with pytest.raises(TreadleError, match=r"'back' is stopped \(treadle start back\)"):
            await runtime.control("RESTART", "back.indexer", {})
        assert await runtime.control("START", "back", {}) == ("started", None)
        await until(tree, running(tree, "back"))
        back = tree.target("back")
        assert isinstance(back, Supervisor)
        await until(back, running(back, "indexer"))


async def test_an_unknown_name_gets_a_suggestion_not_a_list(tmp_path: Path) -> None:
    runtime = ProjectRuntime(write(tmp_path, PROJECT))
    with pytest.raises(ChildNotFound, match=r"no child 'wokrer' \(did you mean 'worker'\?\)"):
        await runtime.control("RESTART", "wokrer", {})
    with pytest.raises(
        ChildNotFound, match=r"no child 'zzz' \(children: web, worker, back, indexer\)"
    ):
        await runtime.control("RESTART", "zzz", {})
