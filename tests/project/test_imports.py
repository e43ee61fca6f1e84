"""supervisord and PM2 configurations as treadle projects: what each option becomes, read
back from the TOML written (as ``treadle check`` reads it), on the real configuration
files in ``imports/``; and the comment left for every option with no equivalent."""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from treadle import ConfigError
from treadle.project import from_pm2, from_supervisord, load_project
from treadle.project._draft import Draft, literal
from treadle.project._interpolate import interpolate

FIXTURES = Path(__file__).parent / "imports"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    return tmp_path


def written(draft: Draft) -> tuple[str, dict[str, Any]]:
    text = draft.render()
    return text, tomllib.loads(text)


def comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "#" in line)


def test_supervisord_programs_groups_and_includes(copy: Path) -> None:
    here = copy / "supervisord"
    text, data = written(from_supervisord(here / "supervisord.conf", here))
    p = data["processes"]
    assert list(p) == ["web", "worker", "shard_1", "shard_2", "report", "cache-warmer"]
    web = p["web"]
    assert web["command"] == f"python3 {here}/bin/shop_web.py --port 8000 --workers 2"
    assert web["cwd"] == "."  # %(here)s, relative to the new file
    assert web["env"] == {
        "SHOP_ENV": "production",  # [supervisord] environment, for every program
        "LANG": "C.UTF-8",
        "PORT": "8000",
        "PYTHONUNBUFFERED": "1",
        "HOME_DIR": "${HOME}",  # %(ENV_HOME)s: the environment of `treadle up`
    }
    assert (web["restart"], web["stop_signal"], web["stop_timeout"]) == (
        "permanent",
        "SIGINT",
        "20s",
    )
    assert (web["kill_group"], web["merge_output"]) == (True, True)
    assert (web["stdout"], web["log_max_bytes"], web["log_backups"]) == (
        "logs/web.log",
        "50MiB",
        10,
    )
    worker = p["worker"]
    assert worker["replicas"] == 3  # numprocs; process_num only names them
    assert (worker["restart"], worker["normal_exit_codes"]) == ("transient", [0, 2])
    assert (worker["umask"], worker["stderr"]) == ("022", "logs/worker.err.log")
    # %(process_num) in the command: one table per process, as supervisord runs them.
    assert p["shard_1"]["command"].endswith("--queue shard-1")
    assert p["shard_2"]["stdout"] == "logs/shard-2.log"
    assert (p["report"]["restart"], p["report"]["profiles"]) == ("temporary", ["manual"])
    assert p["report"]["command"] == '/bin/sh -c "echo report for %Y-%m written; exit 0"'  # %%
    warmer = p["cache-warmer"]  # from conf.d/cache.conf: its %(here)s is conf.d
    assert "$${CACHE_URL:-none} as cache-warmer" in warmer["command"]  # the shell's, not ours
    assert (warmer["stdout"], warmer["log_backups"]) == ("logs/cache.log", 3)
    assert data["supervisors"]["backend"] == {"children": ["worker", "shard_1", "shard_2"]}
    notes = comments(text)
    for option in (
        "startsecs = 5", "startretries = 3", "priority = 100", "stdout_logfile = AUTO",
        "stdout_events_enabled = true", "stderr_logfile_maxbytes = 10MB", "process_name =",
        "stdout_logfile_maxbytes = 0", "stdout_logfile = NONE", "serverurl = AUTO",
        "priority = 999", "[unix_http_server]", "[inet_http_server]", "[supervisorctl]",
        "[rpcinterface:supervisor]", "[eventlistener:crashmail]", "events = PROCESS_STATE_EXITED",
        "logfile = /var/log/supervisor/supervisord.log", "minfds = 1024",
    ):  # fmt: skip
        assert option in notes, option
    assert "s3cret" not in text  # a password is named, never copied


def test_pm2_apps(copy: Path) -> None:
    here = copy / "pm2"
    text, data = written(from_pm2(here / "ecosystem.config.json", here))
    api, mailer, thumbs = (data["processes"][n] for n in ("api", "mailer", "thumbnailer"))
    assert api["command"] == ["node", "--max-old-space-size=256", "server.js", "--port", "3000"]
    assert api["replicas"] == 2
    assert api["env"] == {
        "NODE_ENV": "development",
        "PORT": "3000",
        "DEBUG": "false",
        "GREETING": "price in $${currency}",  # PM2 passes it as it is: so does treadle
    }
    assert (api["memory_limit"], api["stop_timeout"]) == ("300MiB", "5s")  # PM2's M is 1024²
    assert api["backoff"] == {"initial": "0.1s", "max": "15s", "multiplier": 1.5}
    assert (api["stdout"], api["stderr"]) == ("logs/api-out.log", "logs/api-err.log")
    assert mailer["command"] == [
        "python3", "-u", "pm2_mailer.py", "--queue", "emails", "--concurrency", "4",
    ]  # fmt: skip
    assert mailer["cwd"] == "jobs"
    assert mailer["replicas"] == os.cpu_count()  # instances = "max"
    assert (mailer["restart"], mailer["normal_exit_codes"]) == ("transient", [0])
    assert mailer["backoff"] == {"initial": "3s", "max": "3s", "multiplier": 1.0, "jitter": "none"}
    assert thumbs["command"] == [
        str(here / "bin" / "thumbs"), "--size", "128x128", "--format", "webp",
    ]  # fmt: skip
    assert (thumbs["restart"], thumbs["kill_group"]) == ("temporary", False)
    assert thumbs["memory_limit"] == 104857600
    notes = comments(text)
    for option in (
        'exec_mode = "cluster"', "env_production (NODE_ENV, PORT)", "watch = false",
        "listen_timeout = 8000", "wait_ready = true", "log_date_format", "merge_logs = true",
        "max_restarts = 10", 'min_uptime = "10s"', 'cron_restart = "0 3 * * *"',
        'watch = ["jobs"]', "ignore_watch", "watch_delay = 1000", "time = true",
        'pid_file = "/var/run/thumbs.pid"', 'namespace = "media"', "vizion = false",
        "deploy: no equivalent",
    ):  # fmt: skip
        assert option in notes, option


@pytest.mark.parametrize("source", ["supervisord/supervisord.conf", "pm2/ecosystem.config.json"])
def test_every_imported_file_loads_as_a_project(copy: Path, source: str) -> None:
    path = copy / source
    convert = from_pm2 if source.endswith(".json") else from_supervisord
    (path.parent / "treadle.toml").write_text(convert(path, path.parent).render())
    config = load_project(path.parent / "treadle.toml")
    assert config.processes


def test_paths_outside_the_new_files_directory_stay_absolute(copy: Path) -> None:
    elsewhere = copy / "elsewhere"
    elsewhere.mkdir()
    _, data = written(from_pm2(copy / "pm2" / "ecosystem.config.json", elsewhere))
    assert data["processes"]["api"]["cwd"] == str(copy / "pm2")
    assert data["processes"]["mailer"]["cwd"] == str(copy / "pm2" / "jobs")


def test_a_single_app_or_a_list_is_read_too(tmp_path: Path) -> None:
    for doc in ({"script": "app.py", "name": "one"}, [{"script": "app.py", "name": "one"}]):
        path = tmp_path / "ecosystem.config.json"
        path.write_text(json.dumps(doc))
        _, data = written(from_pm2(path, tmp_path))
        assert data["processes"]["one"]["command"] == ["python3", "app.py"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("command=sleep 1\n", r"supervisord\.conf:1: section: a line before any \[section\]"),
        ("[program:a]\ncommand sleep 1\n", r"supervisord\.conf:2: line: not `key = value`"),
        ("[program:a]\nautostart=true\n", r"\[program:a\] command: missing"),
        ("[program:a]\ncommand=x\nautorestart=maybe\n", r"autorestart: not true, false or"),
        ("[program:a]\ncommand=x %(nope)s\n", r"unknown expansion %\(nope\)"),
        ("[program:a]\ncommand=x\nenvironment=A\n", r"\[program:a\] environment: not KEY=value"),
        ("[group:g]\nprograms=a\n", r"\[group:g\] programs: no \[program:a\]"),
    ],
)
def test_a_bad_supervisord_conf_is_one_error_naming_where(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "supervisord.conf"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        from_supervisord(path, tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"apps": [', r"ecosystem\.config\.json:1:\d+: json: Expecting"),
        ('{"apps": []}', r"apps: no apps"),
        ('{"apps": [{"name": "a"}]}', r"apps\[0\]\.script: missing"),
        ('{"apps": [{"script": "a", "kill_timeout": "soon"}]}', r"kill_timeout: not millis"),
        ('{"apps": [{"script": "a", "max_memory_restart": "lots"}]}', r"not a size"),
    ],
)
def test_a_bad_ecosystem_file_is_one_error_naming_where(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "ecosystem.config.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        from_pm2(path, tmp_path)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("${HOME}", "$${HOME}"),
        ("$$", "$$$"),  # the second is lone: it stays
        ("echo $PORT", "echo $PORT"),  # a lone $ is the shell's, and stays
        ("cost: 5$", "cost: 5$"),
    ],
)
def test_literal_values_survive_interpolation(text: str, kept: str) -> None:
    assert literal(text) == kept
    assert interpolate(kept, {}) == text


def test_strings_are_written_so_toml_reads_them_back(tmp_path: Path) -> None:
    draft = Draft(tmp_path / "x.conf", "test", tmp_path)
    odd = 'quote " backslash \\ tab \t newline \n del \x7f unicode é'
    draft.table("processes", "a b").set("command", odd, "a remark\nover two lines")
    text = draft.render()
    assert tomllib.loads(text)["processes"]["a b"]["command"] == odd
    assert re.search(r'^\[processes\."a b"\]$', text, re.MULTILINE)
