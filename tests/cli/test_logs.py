"""``treadle logs``: real log files merged, chosen, cut and followed, by the real command."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest

from tests.supervisor._support import wait_state
from treadle import State
from treadle.cli._logview import follow_to_console
from treadle.process import ProcessSpec
from treadle.supervisor import ChildSpec, Restart, Supervisor

from ._logs_support import T0, Following, append, lifecycle, output
from ._support import treadle


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    """Two pools' output (web's rotated once), a loop's lifecycle, in a nested supervisor."""
    d = tmp_path / "logs"
    d.mkdir()
    append(d / "web.log.1", output(T0, "web starting"), output(T0 + 2, "web warn", "stderr"))
    append(d / "web.log", output(T0 + 4, "web serving"), output(T0 + 6, "web done"))
    append(d / "worker.log", output(T0 + 1, "worker up"), output(T0 + 5, "worker tick"))
    append(
        d / "treadle.log",
        lifecycle(T0 + 0.5, "shop.web[0]", "starting", "running", "started"),
        lifecycle(T0 + 0.6, "shop.web[1]", "starting", "running", "started"),
        lifecycle(T0 + 3, "shop.background.worker[0]", "starting", "running", "started"),
        lifecycle(T0 + 3.5, "shop.background.ticker", "starting", "running", "started"),
        lifecycle(
            T0 + 7, "shop.web[1]", "running", "failed", "ProcessExited: process 'web' exit 3"
        ),
    )
    return d


def logs(d: Path, *args: str) -> list[str]:
    done = treadle("logs", "--dir", str(d), *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def texts(lines: list[str]) -> list[str]:
    """What follows the time and the name."""
    return [line.split(" ", 2)[2].lstrip().split(" ", 1)[1] for line in lines]


def test_every_file_is_merged_in_time_order_rotated_ones_included(logdir: Path) -> None:
    lines = logs(logdir)
    assert lines[0] == "12:00:00.000 web     | web starting"
    assert lines[4] == "12:00:02.000 web     ! web warn"  # stderr is marked
    assert lines[-1] == (
        "12:00:07.000 treadle | web[1]: running → failed (ProcessExited: process 'web' exit 3)"
    )
    assert texts(lines) == [
        "web starting",
        "web[0]: starting → running (started)",
        "web[1]: starting → running (started)",
        "worker up",
        "web warn",
        "background.worker[0]: starting → running (started)",
        "background.ticker: starting → running (started)",
        "web serving",
        "worker tick",
        "web done",
        "web[1]: running → failed (ProcessExited: process 'web' exit 3)",
    ]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(
            ["web"],
            [
                "web starting",
                "web[0]: s",
                "web[1]: s",
                "web warn",
                "web serving",
                "web done",
                "web[1]: r",
            ],
            id="a-pool-and-its-members",
        ),
        pytest.param(
            ["web[1]"],
            ["web starting", "web[1]: s", "web warn", "web serving", "web done", "web[1]: r"],
            id="one-member-and-the-file-it-shares",
        ),
        pytest.param(
            ["background"],
            ["worker up", "background.worker[0]: s", "background.ticker: s", "worker tick"],
            id="a-supervisor-and-what-is-under-it",
        ),
        pytest.param(
            ["background.worker"],
            ["worker up", "background.worker[0]: s", "worker tick"],
            id="a-dotted-path",
        ),
        pytest.param(["ticker"], ["background.ticker: s"], id="a-loop-without-a-file"),
        pytest.param(
            ["worker", "ticker"],
            ["worker up", "background.worker[0]: s", "background.ticker: s", "worker tick"],
            id="two-names",
        ),
    ],
)
def test_names_choose_children(logdir: Path, names: list[str], expected: list[str]) -> None:
    got = texts(logs(logdir, *names))
    assert len(got) == len(expected), got
    assert all(g.startswith(e) for g, e in zip(got, expected, strict=True)), got


def test_an_unknown_name_is_an_error_that_suggests_the_closest(logdir: Path) -> None:
    done = treadle("logs", "--dir", str(logdir), "web", "wroker")
    assert done.returncode == 3
    assert done.stdout == ""
    assert "no logs for 'wroker' (did you mean 'worker'?)" in done.stderr
    assert "known: background, shop, ticker, treadle, web, worker" in done.stderr


def test_the_last_n_lines(logdir: Path) -> None:
    assert texts(logs(logdir, "-n", "2")) == [
        "web done",
        "web[1]: running → failed (ProcessExited: process 'web' exit 3)",
    ]
    assert texts(logs(logdir, "worker", "--lines", "1")) == ["worker tick"]
    assert logs(logdir, "-n", "0") == []


def test_since_keeps_the_newer_lines(tmp_path: Path) -> None:
    now = time.time()
    append(tmp_path / "job.log", output(now - 7200, "two hours ago"), output(now - 60, "just now"))
    assert texts(logs(tmp_path, "--since", "10m")) == ["just now"]
    assert texts(logs(tmp_path, "--since", "3h")) == ["two hours ago", "just now"]
    bad = treadle("logs", "--dir", str(tmp_path), "--since", "10 minutes")
    assert bad.returncode == 2
    assert "is not a duration" in bad.stderr


def test_json_is_one_object_a_line(logdir: Path) -> None:
    rows = [json.loads(line) for line in logs(logdir, "web[1]", "--json")]
    assert [(r["ts"] - T0, r["child"], r["stream"]) for r in rows] == [
        (0, "web", "stdout"),
        (pytest.approx(0.6), "treadle", "lifecycle"),
        (2, "web", "stderr"),
        (4, "web", "stdout"),
        (6, "web", "stdout"),
        (7, "treadle", "lifecycle"),
    ]
    assert rows[0]["text"] == "web starting"
    assert rows[-1]["text"] == "web[1]: running → failed (ProcessExited: process 'web' exit 3)"
    assert rows[-1]["event"]["name"] == "shop.web[1]"
    assert "event" not in rows[0]


def test_lines_that_do_not_parse_are_shown_as_they_are(tmp_path: Path) -> None:
    (tmp_path / "api.log").write_bytes(
        b"no time on the first line\n"
        + output(T0 + 1, "fine").encode()
        + b"\xff\xfe not utf-8\n"
        + output(T0 + 2, "").encode()
        + b"2024-05-01 12:00:03,000 std"  # a partial last line
    )
    append(
        tmp_path / "treadle.log",
        f"{output(T0, '')[:23]} treadle.lifecycle {{not json\n",
        f"{output(T0 + 1.5, '')[:23]} treadle.supervisor child crashed\n",
        "Traceback (most recent call last):\n",
        "ValueError: boom\n",
    )
    assert logs(tmp_path, "--no-color") == [
        "             api     | no time on the first line",
        "12:00:00.000 treadle | treadle.lifecycle: {not json",
        "12:00:01.000 api     | fine",
        "12:00:01.000 api     | \ufffd\ufffd not utf-8",
        "12:00:01.500 treadle | treadle.supervisor: child crashed",
        "12:00:01.500 treadle | Traceback (most recent call last):",
        "12:00:01.500 treadle | ValueError: boom",
        "12:00:02.000 api     | ",
        "12:00:02.000 api     | 2024-05-01 12:00:03,000 std",
    ]


def test_the_project_file_says_where_the_logs_are(tmp_path: Path) -> None:
    (tmp_path / "treadle.toml").write_text('[processes.job]\ncommand = "true"\n')
    (tmp_path / ".treadle" / "logs").mkdir(parents=True)
    append(tmp_path / ".treadle" / "logs" / "job.log", output(T0, "from the project"))
    (tmp_path / "src").mkdir()  # a directory under the project's
    done = treadle("logs", cwd=str(tmp_path / "src"))
    assert (done.returncode, done.stdout) == (0, "12:00:00.000 job | from the project\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "treadle.toml").unlink()
    lost = treadle("logs", cwd=str(tmp_path / "elsewhere"))
    assert lost.returncode == 2
    assert "no treadle.toml" in lost.stderr
    assert "give --dir" in lost.stderr


def test_follow_prints_new_lines_across_rotation_truncation_and_new_files(
    logdir: Path, tmp_path: Path
) -> None:
    web = logdir / "web.log"
    with Following("--dir", str(logdir), stderr=tmp_path / "stderr") as f:
        got = f.expect("web[1]: running → failed")
        assert len(got) == 10  # -f alone starts with the last 10
        now = time.time()
        append(web, output(now, "appended"))
        f.expect("appended")
        append(web, output(now + 1, "before the rotation"))
        (logdir / "web.log.1").rename(logdir / "web.log.2")  # as RotatingFileHandler does
        web.rename(logdir / "web.log.1")
        append(web, output(now + 2, "after the rotation"))
        f.expect("before the rotation", "after the rotation")
        append(logdir / "api.log", output(now + 3, "a child that came later"))
        f.expect("api     | a child that came later")
        web.write_text(output(now + 4, "cut"))  # truncated in place, then written
        f.expect("cut")
        append(logdir / "treadle.log", lifecycle(now + 5, "shop.web[0]", "running", "stopping"))
        f.expect("treadle | web[0]: running → stopping")
        assert f.interrupt() == 0
    assert (tmp_path / "stderr").read_text() == ""


def test_follow_with_names_and_a_tail(logdir: Path, tmp_path: Path) -> None:
    with Following("--dir", str(logdir), "-n", "1", "worker", stderr=tmp_path / "stderr") as f:
        assert f.expect("worker tick") == ["12:00:05.000 worker  | worker tick"]
        now = time.time()
        append(logdir / "web.log", output(now, "left out"))
        append(logdir / "worker.log", output(now + 1, "picked"))
        [line] = f.expect("picked")  # web's line, written first, was left out
        assert line.endswith(" worker  | picked")
        assert f.interrupt() == 0


async def test_a_supervised_process_writes_what_logs_reads(tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    handler = logging.FileHandler(d / "treadle.log")  # as the project's runtime writes it
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    lifecycle_log = logging.getLogger("treadle.lifecycle")
    level = lifecycle_log.level
    lifecycle_log.addHandler(handler)
    lifecycle_log.setLevel(logging.INFO)
    spec = ProcessSpec(
        argv=["sh", "-c", "echo hello; echo oops >&2"], stdout=str(d / "hi.log"), merge_output=True
    )
    try:
        sup = Supervisor([ChildSpec(spec, name="hi", restart=Restart.TEMPORARY)], name="demo")
        async with sup:
            await wait_state(sup, "hi", State.STOPPED)
    finally:
        lifecycle_log.removeHandler(handler)
        lifecycle_log.setLevel(level)
        handler.close()
    done = await asyncio.to_thread(treadle, "logs", "--dir", str(d), "hi")
    assert done.returncode == 0, done.stderr
    assert texts(done.stdout.splitlines()) == [
        "hi: pending → starting (start)",
        "hi: starting → running (started)",
        "hello",
        "oops",  # merged into stdout's file
        "hi: running → stopped (exited)",
    ]


async def test_follow_to_console_prints_what_comes_after_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append(tmp_path / "web.log", output(T0, "from before"))
    printer = asyncio.create_task(follow_to_console(tmp_path))
    await asyncio.sleep(0)  # one step: it has looked at the files and waits for more
    append(tmp_path / "web.log", output(T0 + 1, "new"))
    append(tmp_path / "api.log", output(T0 + 2, "a new child"))
    seen = ""
    async with asyncio.timeout(20):
        while "a new child" not in seen:
            await asyncio.sleep(0.05)
            seen += capsys.readouterr().out
    printer.cancel()
    await asyncio.gather(printer, return_exceptions=True)
    assert seen == "12:00:01.000 web | new\n12:00:02.000 api | a new child\n"
