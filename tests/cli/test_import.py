"""``treadle import`` as a user coming from supervisord or PM2 runs it: in the directory of
their configuration, then ``treadle check``, then ``treadle up -d``: every process runs,
with the arguments, environment and log files the old configuration gave it."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ._support import gone, treadle

FIXTURES = Path(__file__).parents[1] / "project" / "imports"


def until(what: str, check: Callable[[], object], timeout: float = 30) -> None:
    """Ask again until ``check()`` is true: a background project is another process."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.1)


def states(root: Path) -> dict[str, str]:
    done = treadle("status", "--json", cwd=str(root))
    assert done.returncode == 0, done.stderr
    return {c["name"]: c["state"] for c in json.loads(done.stdout)["children"]}


def logged(path: Path, text: str) -> Callable[[], bool]:
    return lambda: path.exists() and text in path.read_text()


@pytest.mark.parametrize(
    ("source", "running", "lines"),
    [
        (
            "supervisord/supervisord.conf",
            {"web", "cache-warmer", "backend"}  # and in [group:backend]:
            | {
                f"backend.{n}"
                for n in ("worker[0]", "worker[1]", "worker[2]", "shard_1", "shard_2")
            },
            {
                "logs/web.log": "web on port 8000 (2 workers, production)",
                "logs/shard-2.log": "worker on queue shard-2",
                "logs/cache.log": "warming none as cache-warmer",
                ".treadle/logs/worker.log": "worker on queue default",
            },
        ),
        (
            "pm2/ecosystem.config.json",
            {"api[0]", "api[1]", "mailer[0]", "mailer[1]", "thumbnailer"},
            {
                "logs/api-out.log": "api on port 3000 (development): price in ${currency}",
                ".treadle/logs/mailer.log": "mailer on emails x4 via redis://127.0.0.1:6379/0",
                ".treadle/logs/thumbnailer.log": "thumbs --size 128x128 --format webp",
            },
        ),
    ],
)
@pytest.mark.timeout(90)
def test_an_imported_configuration_checks_and_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    running: set[str],
    lines: dict[str, str],
) -> None:
    if source.startswith("pm2") and shutil.which("node") is None:
        pytest.skip("no node to run the PM2 app with")
    monkeypatch.delenv("TREADLE_BROKER", raising=False)  # the project's own broker
    monkeypatch.delenv("CACHE_URL", raising=False)
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    path = tmp_path / source
    root = path.parent
    done = treadle("import", path.name, cwd=str(root))
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("wrote treadle.toml: ")
    assert "Next: `treadle check`, then `treadle up`." in done.stderr
    check = treadle("check", "--json", cwd=str(root))
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["ok"] is True
    up = treadle("up", "-d", cwd=str(root))
    assert up.returncode == 0, up.stderr
    pid = int(up.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        until(
            f"{running} running",
            lambda: running <= {n for n, s in states(root).items() if s == "running"},
        )
        for log, line in lines.items():
            until(f"{line!r} in {log}", logged(root / log, line))
    finally:
        treadle("down", cwd=str(root))
        gone(pid)


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "pm2", tmp_path, dirs_exist_ok=True)
    (tmp_path / "treadle.toml").write_text("# mine\n")
    done = treadle("import", "ecosystem.config.json", cwd=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr == "treadle: --output: treadle.toml exists (--force writes over it)\n"
    assert (tmp_path / "treadle.toml").read_text() == "# mine\n"
    forced = treadle("import", "ecosystem.config.json", "--force", cwd=str(tmp_path))
    assert forced.returncode == 0, forced.stderr
    assert "[processes.api]" in (tmp_path / "treadle.toml").read_text()


def test_dash_prints_it_and_the_kind_is_told_by_content(tmp_path: Path) -> None:
    conf = tmp_path / "programs"  # no telling suffix
    conf.write_text("[program:web]\ncommand=sleep 60\n")
    done = treadle("import", str(conf), "-o", "-", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "[processes.web]" in done.stdout
    assert "(supervisord)" in done.stdout.splitlines()[0]
    assert not (tmp_path / "treadle.toml").exists()


def test_pm2s_javascript_form_is_refused_with_how_to_turn_it_into_json(tmp_path: Path) -> None:
    (tmp_path / "ecosystem.config.js").write_text("module.exports = {apps: []}\n")
    done = treadle("import", "ecosystem.config.js", cwd=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert 'JSON.stringify(require("./ecosystem.config.js")' in done.stderr


def test_a_bad_file_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "supervisord.conf").write_text("[program:web]\ncommand sleep\n")
    done = treadle("import", "supervisord.conf", cwd=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"treadle: {tmp_path / 'supervisord.conf'}:2: line:")
    assert done.stderr.count("\n") == 1
