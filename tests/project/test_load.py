"""Finding and loading a project: the full example, pyproject.toml, syntax errors; and the
helpers (``write``, ``load``, ``error``, ``where``, ``FULL``) the other project tests use."""

from __future__ import annotations

import signal
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from treadle import ConfigError, Restart, Strategy
from treadle.project import ProjectConfig, find_project, load_project

# -- helpers the other project tests import ---------------------------------------------------


def write(directory: Path, text: str, name: str = "treadle.toml") -> Path:
    """``text`` (dedented; its first line is line 1) written to ``directory/name``."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load(
    directory: Path,
    text: str,
    *,
    environ: Mapping[str, str] | None = None,
    profiles: Sequence[str] = (),
) -> ProjectConfig:
    return load_project(write(directory, text), environ=environ or {}, profiles=profiles)


def error(
    directory: Path,
    text: str,
    *,
    environ: Mapping[str, str] | None = None,
    profiles: Sequence[str] = (),
    name: str = "treadle.toml",
) -> ConfigError:
    """The ConfigError loading ``text`` raises."""
    path = write(directory, text, name)
    with pytest.raises(ConfigError) as caught:
        load_project(path, environ=environ or {}, profiles=profiles)
    return caught.value


def where(exc: ConfigError) -> tuple[str | None, int | None, int | None, str]:
    """(file name, line, column, field): what a test compares."""
    return (Path(exc.file).name if exc.file else None, exc.line, exc.column, exc.field)


FULL = """
# The sketch from the design, complete (every section, every kind of child).
[project]
name = "shop"
broker = "${TREADLE_BROKER:-.treadle/broker.db}"

[supervisor]
strategy = "one_for_one"
intensity = 5
period = "1h"
max_concurrent = 8
memory_soft_limit = "2GiB"
shutdown_timeout = 10

[limiters]
io = 8
db = { capacity = 2 }

[loops.poller]
target = "tests.project.test_build:Ticker"
interval = 5
initial_delay = "100ms"
enabled = true
backoff = { initial = 0.5, max = 60, multiplier = 2, jitter = "equal" }
restart = "permanent"
depends_on = ["indexer"]
heartbeat_timeout = 30
priority = 1
replicas = 1
options = { key = "poller", items = [1, 2] }
profiles = ["worker"]

[loops.indexer]
target = "tests.project.test_build:tick"
interval = "2s"

[processes.web]
command = "gunicorn app:app -b 127.0.0.1:${PORT:-8000}"
env = { A = "1", API_TOKEN = "s3cret" }
cwd = "web"
stop_signal = "SIGINT"
stop_timeout = "10s"
stdout = "logs/web.log"
merge_output = true
log_max_bytes = "10MB"
log_backups = 5
memory_limit = "512MiB"
cpu_limit = "1m"
normal_exit_codes = [0, 3]
health = { http = "http://127.0.0.1:8000/health", interval = 2, timeout = 5, failures = 3 }
replicas = 2
scale = { min = 1, max = 8 }
profiles = ["web"]

[processes.mailer]
function = "shop.mail:serve"
args = { queue = "mail" }
health = { file = "run/mailer.beat", max_age = "30s" }

[supervisors.background]
strategy = "one_for_all"
intensity = 3
period = 60
children = ["poller", "indexer"]

[dashboard]
enabled = true
host = "127.0.0.1"
port = 8765
token = "${TREADLE_TOKEN:-}"

[logging]
level = "INFO"
format = "json"
"""


# -- the tests ----------------------------------------------------------------------------------


def test_the_full_example_loads_with_every_value_in_its_type(tmp_path: Path) -> None:
    config = load(tmp_path, FULL, environ={"TREADLE_TOKEN": "t0k"}, profiles=["worker", "web"])
    assert config.path == tmp_path / "treadle.toml"
    assert config.root == tmp_path
    assert config.name == "shop"
    assert config.broker == str(tmp_path / ".treadle" / "broker.db")
    assert config.profiles == ("worker", "web")
    sup = config.supervisor
    assert (sup.strategy, sup.period, sup.memory_soft_limit) == (Strategy.ONE_FOR_ONE, 3600, 2**31)
    assert config.limiters == {"io": 8, "db": 2}
    poller = config.loops["poller"]
    assert (poller.interval, poller.initial_delay, poller.restart) == (5, 0.1, Restart.PERMANENT)
    assert poller.backoff is not None
    assert poller.backoff.to_backoff().max == 60
    assert poller.options == {"key": "poller", "items": [1, 2]}
    web = config.processes["web"]
    assert web.argv() == ("gunicorn", "app:app", "-b", "127.0.0.1:8000")
    assert (web.stop_signal, web.stop_timeout, web.cpu_limit) == (signal.SIGINT, 10, 60)
    assert (web.log_max_bytes, web.memory_limit) == (10_000_000, 512 * 2**20)
    assert web.normal_exit_codes == (0, 3)
    assert web.health is not None
    assert web.health.http == "http://127.0.0.1:8000/health"
    assert web.scale is not None
    assert (web.scale.min, web.scale.max) == (1, 8)
    assert config.processes["mailer"].args == {"queue": "mail"}
    assert config.supervisors["background"].children == ("poller", "indexer")
    assert config.dashboard.token == "t0k"
    assert (config.logging.level, config.logging.format) == ("info", "json")
    assert config.order == ("poller", "indexer", "web", "mailer", "background")


def test_defaults_for_an_empty_file(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    assert config.name == tmp_path.name
    assert config.broker == str(tmp_path / ".treadle" / "broker.db")
    assert config.children() == {}
    assert not config.dashboard.enabled
    assert config.dashboard.host == "127.0.0.1"


def test_a_postgresql_broker_is_kept_as_a_url(tmp_path: Path) -> None:
    url = "postgresql://app:pw@db/shop"
    assert load(tmp_path, f'[project]\nbroker = "{url}"\n').broker == url
    exc = error(tmp_path, '[project]\nbroker = "mysql://db/shop"\n')
    assert where(exc) == ("treadle.toml", 2, 1, "project.broker")


def test_find_project_walks_up_to_treadle_toml(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "up"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project(deep) == tmp_path / "treadle.toml"
    assert load_project(deep, environ={}).name == "up"


def test_find_project_takes_a_pyproject_only_with_tool_treadle(tmp_path: Path) -> None:
    write(tmp_path, "[tool.treadle.project]\nname = 'outer'\n", "pyproject.toml")
    inner = tmp_path / "inner"
    write(inner, "[project]\nname = 'not treadle'\n", "pyproject.toml")
    assert find_project(inner) == tmp_path / "pyproject.toml"
    write(inner, "", "treadle.toml")
    assert find_project(inner) == inner / "treadle.toml"  # treadle.toml first


def test_find_project_names_where_it_looked(tmp_path: Path) -> None:
    start = tmp_path / "empty"
    start.mkdir()
    with pytest.raises(ConfigError) as caught:
        find_project(start)
    assert caught.value.field == "project"
    assert f"in {start}, {tmp_path}," in caught.value.message


def test_pyproject_fields_are_relative_and_lines_are_real(tmp_path: Path) -> None:
    text = """
        [project]
        name = "shop"
        version = "1.0"

        [tool.ruff]
        line-length = 100

        [tool.treadle.processes.web]
        command = "serve"
        stop_timout = 3
        """
    exc = error(tmp_path, text, name="pyproject.toml")
    assert where(exc) == ("pyproject.toml", 10, 1, "processes.web.stop_timout")
    assert exc.suggestion == "stop_timeout"
    assert str(exc).endswith(
        "pyproject.toml:10:1: processes.web.stop_timout: unknown key (did you mean 'stop_timeout'?)"
    )


def test_pyproject_with_dotted_tool_treadle_keys(tmp_path: Path) -> None:
    text = """
        [tool.treadle]
        project.name = "dotted"
        processes.web.command = "serve"
        processes.web.replicas = 0
        """
    exc = error(tmp_path, text, name="pyproject.toml")
    assert where(exc) == ("pyproject.toml", 4, 15, "processes.web.replicas")
    assert exc.message == "must be >= 1, got 0"


def test_a_pyproject_without_tool_treadle_is_an_error_when_named(tmp_path: Path) -> None:
    exc = error(tmp_path, "[project]\nname = 'x'\n", name="pyproject.toml")
    assert (exc.field, exc.message) == ("tool.treadle", "no [tool.treadle] table")


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("[project]\nname = \n", 2, 8),
        ('[project]\nname = "x"\nname = "y"\n', 3, 11),
        ("[loops.a]\ntarget = 'a:b'\nbackoff = { initial = }\n", 3, 23),
    ],
)
def test_a_syntax_error_is_placed_where_tomllib_says(
    tmp_path: Path, text: str, line: int, column: int
) -> None:
    exc = error(tmp_path, text)
    assert where(exc) == ("treadle.toml", line, column, "syntax")
    assert exc.message.startswith("invalid TOML: ")


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_project(tmp_path / "nope.toml")
