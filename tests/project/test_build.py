"""build_tree(): every table onto its spec, loop targets and their errors, and a real tree
with a real process and a real loop, run and stopped.

The loop targets the project files name (``tests.project.test_build:Ticker``) live here.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from treadle import ConfigError, State, Strategy
from treadle.loop import FunctionLoop, Loop, loop
from treadle.process import FileHeartbeat, HttpCheck, ProcessSpec, TcpCheck
from treadle.project import build_child, build_tree
from treadle.supervisor import Supervisor

from .test_load import FULL, load, where, write

# -- loop targets -----------------------------------------------------------------------------

RAN: dict[str, asyncio.Event] = {}
"""A test puts an Event under a key; the Ticker with that ``key`` sets it when it runs."""


class Ticker(Loop):
    """Sets ``RAN[key]`` each run; ``items`` shows that options reach the instance."""

    def __init__(self, key: str = "", items: list[int] | None = None, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.key = key
        self.items = items if items is not None else []

    async def run_once(self) -> None:
        event = RAN.get(self.key)
        if event is not None:
            event.set()


class Strict(Loop):
    """A loop whose constructor takes only ``url``."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    async def run_once(self) -> None:
        pass


class Keeper(Loop):
    """Keeps its ``**settings`` itself: any keyword may be right, none is refused."""

    def __init__(self, **settings: object) -> None:
        Loop.__init__(self)
        self.settings = settings

    async def run_once(self) -> None:
        pass


@loop(interval=0.25)
async def tick() -> None:
    pass


async def plain() -> None:
    """Not decorated: not a loop target."""


NOT_A_LOOP = 42
A_LOOP_INSTANCE = Ticker()


@pytest.fixture(autouse=True)
def restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_tree puts the project's directory on sys.path: keep it to one test."""
    monkeypatch.setattr(sys, "path", [*sys.path])


# -- the mapping ------------------------------------------------------------------------------


def test_the_full_example_becomes_a_tree(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FROM_DOTENV=1\n")
    config = load(tmp_path, FULL, profiles=["worker", "web"])
    tree = build_tree(config)
    assert tree.state is State.PENDING
    assert tree.name == "shop"
    assert tree.children == ["web[0]", "web[1]", "mailer", "background"]
    assert (tree.strategy, tree.intensity, tree.period) == (Strategy.ONE_FOR_ONE, 5, 3600)
    assert tree.memory_soft_limit == 2**31
    assert tree.limits.names() == ["default", "io", "db"]
    assert tree.limits.get("io").capacity == 8
    background = tree.target("background")
    assert isinstance(background, Supervisor)
    assert background.children == ["poller", "indexer"]
    assert (background.strategy, background.intensity, background.period) == (
        Strategy.ONE_FOR_ALL,
        3,
        60,
    )


def test_a_process_spec_resolves_paths_and_maps_its_health_check(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FROM_DOTENV=1\nA=overridden-by-the-table\n")
    config = load(tmp_path, FULL, profiles=["web"])
    child = build_child(config, "web")
    spec = child.target
    assert isinstance(spec, ProcessSpec)
    assert spec.argv == ("gunicorn", "app:app", "-b", "127.0.0.1:8000")
    assert spec.cwd == str(tmp_path / "web")
    assert spec.stdout == str(tmp_path / "logs" / "web.log")
    assert spec.merge_output
    assert spec.env == {"FROM_DOTENV": "1", "A": "1", "API_TOKEN": "s3cret"}
    assert (spec.stop_signal, spec.stop_timeout, spec.cpu_limit) == (signal.SIGINT, 10, 60)
    assert (spec.memory_limit, spec.log_max_bytes, spec.log_backups) == (512 * 2**20, 10**7, 5)
    assert spec.normal_exit_codes == (0, 3)
    assert spec.health == HttpCheck("http://127.0.0.1:8000/health", timeout=5)
    assert (child.replicas, child.health_interval, child.health_failures) == (2, 2, 3)

    mailer = build_child(config, "mailer")
    assert isinstance(mailer.target, ProcessSpec)
    assert mailer.target.function == "shop.mail:serve"
    assert mailer.target.args == {"queue": "mail"}
    assert mailer.target.cwd == str(tmp_path)  # a process runs in the project's directory
    assert mailer.target.health == FileHeartbeat(str(tmp_path / "run" / "mailer.beat"), 30)


def test_a_tcp_check_and_a_shell_command(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [processes.db]
        command = "exec postgres -D data"
        shell = true
        health = { tcp = ":5432" }
        """,
    )
    spec = build_child(config, "db").target
    assert isinstance(spec, ProcessSpec)
    assert (spec.argv, spec.shell) == (("exec postgres -D data",), True)
    assert spec.health == TcpCheck(5432, "127.0.0.1")


def test_a_loop_class_gets_a_fresh_instance_per_start(tmp_path: Path) -> None:
    config = load(tmp_path, FULL, profiles=["worker"])
    factory = build_child(config, "poller").target
    assert callable(factory)
    first, second = factory(), factory()
    assert isinstance(first, Ticker)
    assert isinstance(second, Ticker)
    assert first is not second
    assert first.items == [1, 2]
    assert first.items is not second.items
    assert (first.name, first.interval, first.key) == ("poller", 5, "poller")


def test_a_loop_function_is_rebuilt_with_the_tables_settings(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    factory = build_child(config, "indexer").target
    assert callable(factory)
    built = factory()
    assert isinstance(built, FunctionLoop)
    assert built is not tick
    assert (built.name, built.interval) == ("indexer", 2)
    unset = load(tmp_path, '[loops.t]\ntarget = "tests.project.test_build:tick"\n')
    make = build_child(unset, "t").target
    assert callable(make)
    rebuilt = make()
    assert isinstance(rebuilt, FunctionLoop)
    assert rebuilt.interval == 0.25  # the decorator's, when the table sets none


@pytest.mark.parametrize(
    "target", ["tests.project.test_build:tick", "tests.project.test_build:Ticker"]
)
def test_a_loops_run_timeout_is_a_table_setting(tmp_path: Path, target: str) -> None:
    """``run_timeout`` (each run cancelled past it) is set in the loop's table, as its
    interval is, for a @loop function and a Loop class alike; unset, the target's own."""
    config = load(tmp_path, f'[loops.t]\ntarget = "{target}"\nrun_timeout = "2.5s"\n')
    make = build_child(config, "t").target
    assert callable(make)
    built = make()
    assert isinstance(built, Loop)
    assert built.run_timeout == 2.5
    unset = build_child(load(tmp_path, f'[loops.t]\ntarget = "{target}"\n'), "t").target
    assert callable(unset)
    default = unset()
    assert isinstance(default, Loop)
    assert default.run_timeout is None


def test_replicas_of_a_loop_are_a_pool(tmp_path: Path) -> None:
    config = load(tmp_path, '[loops.t]\ntarget = "tests.project.test_build:Ticker"\nreplicas = 3\n')
    assert build_tree(config).children == ["t[0]", "t[1]", "t[2]"]


def test_a_target_in_the_projects_directory_imports(tmp_path: Path) -> None:
    write(tmp_path, "from treadle.loop import Loop\nclass Local(Loop): pass\n", "local_jobs_a1.py")
    config = load(tmp_path, '[loops.local]\ntarget = "local_jobs_a1:Local"\n')
    factory = build_child(config, "local").target
    assert callable(factory)
    assert type(factory()).__name__ == "Local"


@pytest.mark.parametrize(
    ("target", "options", "at", "message", "suggestion"),
    [
        (
            "nowhere_at_all.jobs:Poller",
            "",
            (2, 1, "loops.job.target"),
            "cannot import 'nowhere_at_all.jobs': no module named 'nowhere_at_all'",
            None,
        ),
        (
            "tests.project.test_build:Tickr",
            "",
            (2, 1, "loops.job.target"),
            "'tests.project.test_build' has no attribute 'Tickr'",
            "Ticker",
        ),
        (
            "tests.project.test_build:NOT_A_LOOP",
            "",
            (2, 1, "loops.job.target"),
            "tests.project.test_build:NOT_A_LOOP is a int, not a Loop subclass or a @loop function",
            None,
        ),
        (
            "tests.project.test_build:plain",
            "",
            (2, 1, "loops.job.target"),
            "tests.project.test_build:plain is a function, not a Loop subclass or a @loop function",
            None,
        ),
        (
            "tests.project.test_build:A_LOOP_INSTANCE",
            "",
            (2, 1, "loops.job.target"),
            "tests.project.test_build:A_LOOP_INSTANCE is a Ticker instance: name its class instead",
            None,
        ),
        (
            "tests.project.test_build:tick",
            "options = { x = 1 }",
            (3, 1, "loops.job.options"),
            "tests.project.test_build:tick is a @loop function: it takes no options",
            None,
        ),
        (
            "tests.project.test_build:Strict",
            'options = { url = "u", retries = 3 }',
            (3, 24, "loops.job.options.retries"),
            "Strict takes no option 'retries' (it takes: url)",
            None,
        ),
        (
            "tests.project.test_build:Strict",
            "options = {}",
            (1, 1, "loops.job"),
            "Strict(): missing a required argument: 'url'",
            None,
        ),
        (  # **options handed on to Loop.__init__, which takes no such keyword
            "tests.project.test_build:Ticker",
            'options = { kye = "a" }',
            (3, 13, "loops.job.options.kye"),
            "Ticker takes no option 'kye'",
            "key",
        ),
        (
            "tests.project.test_build:Ticker",
            "options = { stepp = 5 }",
            (3, 13, "loops.job.options.stepp"),
            "Ticker takes no option 'stepp' (it takes: items, key)",
            None,
        ),
        (
            "tests.project.test_build:Ticker",
            "options = { interval = 3 }",
            (3, 13, "loops.job.options.interval"),
            "'interval' is a loop setting: set it in [loops.job], not in options",
            None,
        ),
    ],
)
def test_a_bad_loop_target_is_an_error_at_its_key(
    tmp_path: Path,
    target: str,
    options: str,
    at: tuple[int, int, str],
    message: str,
    suggestion: str | None,
) -> None:
    extra = "interval = 1\n" if "interval" in options else ""
    config = load(tmp_path, f'[loops.job]\ntarget = "{target}"\n{options}\n{extra}')
    with pytest.raises(ConfigError) as caught:
        build_tree(config)
    assert where(caught.value) == ("treadle.toml", *at)
    assert caught.value.message == message
    assert caught.value.suggestion == suggestion


def test_a_class_that_keeps_its_keywords_takes_any_option(tmp_path: Path) -> None:
    text = '[loops.job]\ntarget = "tests.project.test_build:Keeper"\noptions = { stepp = 5 }\n'
    loop = build_child(load(tmp_path, text), "job").target
    assert callable(loop)
    made = loop()
    assert isinstance(made, Keeper)
    assert made.settings == {"stepp": 5, "name": "job"}


def test_a_module_that_raises_on_import_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "raise RuntimeError('no database configured')\n", "broken_jobs_b2.py")
    config = load(tmp_path, '[loops.job]\ntarget = "broken_jobs_b2:Job"\n')
    with pytest.raises(ConfigError) as caught:
        build_tree(config)
    assert where(caught.value) == ("treadle.toml", 2, 1, "loops.job.target")
    assert caught.value.message == (
        "importing 'broken_jobs_b2' raised RuntimeError: no database configured"
    )


def test_build_profiles_override_the_loaded_ones_and_are_checked(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    assert "web[0]" in build_tree(config, profiles=["web"]).children
    text = FULL.replace('depends_on = ["indexer"]', 'depends_on = ["indexer"]\n')
    text = text.replace("[loops.indexer]\ntarget", '[loops.indexer]\nprofiles = ["idx"]\ntarget')
    config = load(tmp_path, text, profiles=["idx"])
    with pytest.raises(ConfigError) as caught:
        build_tree(config, profiles=["worker"])
    assert where(caught.value)[3] == "loops.poller.depends_on[0]"
    assert "'poller' depends on 'indexer'" in caught.value.message


def test_build_child_names_what_there_is(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such child"):
        build_child(load(tmp_path, FULL), "nope")


# -- a real tree ------------------------------------------------------------------------------

RUNNING = """
[project]
name = "live"

[limiters]
io = 2

[processes.web]
command = ["sh", "-c", "touch started && exec sleep 60"]
cwd = "work"
stop_timeout = "5s"
health = { file = "work/started", max_age = "1h", interval = "20ms" }

[loops.ticker]
target = "tests.project.test_build:Ticker"
interval = "10ms"
options = { key = "live" }
depends_on = ["web"]
"""


async def test_a_built_tree_runs_a_process_and_a_loop_and_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    tree = build_tree(load(tmp_path, RUNNING))
    ran = RAN["live"] = asyncio.Event()
    try:
        async with tree:
            async with asyncio.timeout(30):
                await ran.wait()  # the loop runs only once web is up and its check passed
            assert tree.child_state("web") is State.RUNNING
            assert tree.child_state("ticker") is State.RUNNING
            assert (tmp_path / "work" / "started").is_file()  # it ran in its cwd
            status = tree.status()
            assert status["children"]["web"]["health"]["status"] == "healthy"
            assert tree.dump()["limits"]["io"]["capacity"] == 2
    finally:
        del RAN["live"]
    assert tree.state is State.STOPPED
    assert tree.child_state("web") is State.STOPPED
    assert tree.child_state("ticker") is State.STOPPED
