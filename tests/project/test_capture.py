"""A project's loops print and log into their own log files, as a process's output does:
real loops in a real tree, the real log files read back."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.loop import Loop, loop
from treadle.project import ProjectRuntime
from treadle.project._logfiles import LogDir
from treadle.supervisor._context import child_context

from .test_load import write

PROJECT = """
[project]
name = "shop"

[loops.chatty]
target = "tests.project.test_capture:chatty"
interval = "1h"

[loops.quiet]
target = "tests.project.test_capture:Quiet"
interval = "1h"
replicas = 2
"""
CHATTY = PROJECT.split("[loops.quiet]")[0]

_log = logging.getLogger("shop.jobs")
_done: dict[str, asyncio.Event] = {}


@pytest.fixture(autouse=True)
def events() -> Iterator[None]:
    """Fresh events for each test (the loops below set them when they have written)."""
    _done.clear()
    _done.update(chatty=asyncio.Event(), quiet=asyncio.Event(), both=asyncio.Event())
    yield
    _done.clear()


async def _sub() -> None:
    print("from a task it started")


@loop(interval=3600)
async def chatty() -> None:
    print("one", "line")
    print("a line ", end="")
    print("in pieces")
    sys.stderr.write("to stderr\n")
    _log.info("logged at %s", "info")
    _log.debug("not at debug")
    await asyncio.create_task(_sub())
    await asyncio.to_thread(print, "from a thread")
    try:
        raise KeyError("why")
    except KeyError:
        _log.exception("with its traceback")
    _done["chatty"].set()


class Quiet(Loop):
    async def run_once(self) -> None:
        _log.warning("a member warns")
        if _done["quiet"].is_set():
            _done["both"].set()  # the second member: both have written
        _done["quiet"].set()


def lines(log_dir: Path, child: str) -> list[tuple[str, str]]:
    with LogDir(log_dir) as logs:
        return [(e.stream, e.text) for e in logs.history() if e.child == child]


async def run(runtime: ProjectRuntime, *wait: str) -> None:
    runtime.start_logging()
    try:
        async with asyncio.timeout(20), runtime.tree():
            for name in wait:
                await _done[name].wait()
    finally:
        runtime.stop_logging()


async def test_print_and_logging_reach_the_loops_log_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = ProjectRuntime(write(tmp_path, CHATTY))
    await run(runtime, "chatty")
    got = lines(runtime.log_dir, "chatty")
    assert got[:8] == [
        ("stdout", "one line"),
        ("stdout", "a line in pieces"),
        ("stderr", "to stderr"),
        ("stderr", "INFO shop.jobs: logged at info"),
        ("stdout", "from a task it started"),
        ("stdout", "from a thread"),
        ("stderr", "ERROR shop.jobs: with its traceback"),
        ("stderr", "Traceback (most recent call last):"),
    ]
    assert got[-1] == ("stderr", "KeyError: 'why'")
    assert not any("debug" in text for _, text in got)
    out = capsys.readouterr()
    assert "one line" not in out.out + out.err  # not on the manager's own streams


async def test_a_pools_members_share_its_file(tmp_path: Path) -> None:
    chatty = PROJECT.index("[loops.chatty]")
    text = PROJECT[:chatty] + PROJECT[PROJECT.index("[loops.quiet]") :]
    runtime = ProjectRuntime(write(tmp_path, text))
    await run(runtime, "both")
    assert lines(runtime.log_dir, "quiet") == [("stderr", "WARNING shop.jobs: a member warns")] * 2
    assert {p.name for p in runtime.log_dir.iterdir()} == {"quiet.log", "treadle.log"}


async def test_what_no_child_writes_goes_where_it_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = ProjectRuntime(write(tmp_path, CHATTY))
    real = sys.stdout, sys.stderr
    root = logging.getLogger()
    level = root.level
    runtime.start_logging()
    try:
        assert sys.stdout is not real[0]
        print("the manager's own line")
        logging.getLogger("elsewhere").warning("a warning outside any child")
        logging.getLogger("elsewhere").info("an info outside any child")
        assert sys.stdout.isatty() == real[0].isatty()  # the rest is the real stream's
    finally:
        runtime.stop_logging()
    assert (sys.stdout, sys.stderr) == real
    assert root.level == level
    out = capsys.readouterr()
    assert out.out == "the manager's own line\n"
    assert out.err == "a warning outside any child\n"


async def test_a_console_the_user_configured_keeps_its_format(tmp_path: Path) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s|%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        runtime = ProjectRuntime(write(tmp_path, CHATTY))
        await run(runtime, "chatty")
        assert handler.stream is sys.stderr  # given back
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    got = lines(runtime.log_dir, "chatty")
    assert ("stderr", "INFO|logged at info") in got
    assert not any(text.startswith("INFO shop.jobs") for _, text in got)  # not twice


async def test_what_runs_for_a_process_child_is_not_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A process child's log is its process's: treadle's own code in that child's task
    (or a library's warning there) goes where it went."""
    text = CHATTY + '\n[processes.web]\ncommand = ["true"]\n'
    runtime = ProjectRuntime(write(tmp_path, text))
    runtime.tree()
    runtime.start_logging()
    try:
        child_context("shop.web").run(print, "treadle's own, in web's task")
        child_context("shop.chatty").run(print, "chatty's")
    finally:
        runtime.stop_logging()
    assert capsys.readouterr().out == "treadle's own, in web's task\n"
    assert not (runtime.log_dir / "web.log").exists()
    assert lines(runtime.log_dir, "chatty") == [("stdout", "chatty's")]
