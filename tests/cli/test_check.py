"""``treadle check``: real project files (and a Procfile) checked by the real command."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from ._support import treadle

PROJECT = """
[project]
name = "shop"

[processes.web]
command = "python -m http.server"
replicas = 2

[processes.mailer]
command = ["sh", "-c", "sleep 100"]
depends_on = ["web"]
profiles = ["mail"]

[loops.ticker]
target = "ticks:Tick"

[supervisors.background]
children = ["ticker"]
"""

TICKS = """
from treadle.loop import Loop

print("ticks imported")  # on stdout: --json must not be spoilt by it


class Tick(Loop):
    async def run_once(self) -> None:
        pass
"""


def project(directory: Path, text: str = PROJECT) -> Path:
    (directory / "ticks.py").write_text(TICKS)
    path = directory / "treadle.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_a_valid_project_is_listed(tmp_path: Path) -> None:
    path = project(tmp_path)
    done = treadle("check", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    assert rows == [
        ["web", "process", "shop", "2", "python", "-m", "http.server"],
        ["background", "supervisor", "shop", "one_for_one:", "ticker"],
        ["ticker", "loop", "background", "1", "ticks:Tick"],
    ]
    assert done.stderr.splitlines()[-1] == (
        f"ok: 3 children in {path} (1 left out: in profiles not selected)"
    )
    with_mail = treadle("check", "--profile", "mail", cwd=str(tmp_path))
    assert with_mail.returncode == 0, with_mail.stderr
    mailer = [line.split() for line in with_mail.stdout.splitlines() if "mailer" in line]
    assert mailer == [
        ["mailer", "process", "shop", "1", "web", "mail", "sh", "-c", "'sleep", "100'"]
    ]
    assert with_mail.stderr.splitlines()[-1] == f"ok: 4 children in {path}"


def test_json_lists_the_children(tmp_path: Path) -> None:
    path = project(tmp_path)
    (tmp_path / "sub").mkdir()
    done = treadle("check", "--json", "--profile", "mail", cwd=str(tmp_path / "sub"))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["ok"], answer["file"], answer["project"]) == (True, str(path), "shop")
    assert answer["children"][1] == {
        "name": "mailer",
        "kind": "process",
        "supervisor": "shop",
        "replicas": 1,
        "depends_on": ["web"],
        "profiles": ["mail"],
        "runs": "sh -c 'sleep 100'",
    }
    assert [c["name"] for c in answer["children"]] == ["web", "mailer", "background", "ticker"]
    assert answer["children"][2]["replicas"] is None  # a supervisor has none
    assert "ticks imported" in done.stderr


def test_a_typo_is_placed_and_a_fix_suggested(tmp_path: Path) -> None:
    path = project(tmp_path, PROJECT.replace("replicas = 2", "replica = 2"))
    done = treadle("check", cwd=str(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"{path}:6:1: processes.web.replica: unknown key (did you mean 'replicas'?)\n"
    )
    answer = json.loads(treadle("check", "--json", cwd=str(tmp_path)).stdout)
    assert answer == {
        "ok": False,
        "error": {
            "file": str(path),
            "line": 6,
            "column": 1,
            "field": "processes.web.replica",
            "message": "unknown key",
            "suggestion": "replicas",
        },
    }


def test_an_unknown_profile(tmp_path: Path) -> None:
    project(tmp_path)
    done = treadle("check", "--profile", "mial", cwd=str(tmp_path))
    assert done.returncode == 2
    assert "unknown profile 'mial' (declared: mail) (did you mean 'mail'?)" in done.stderr


def test_a_loop_target_that_does_not_import(tmp_path: Path) -> None:
    path = project(tmp_path, PROJECT.replace("ticks:Tick", "tickz:Tick"))
    done = treadle("check", cwd=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{path}:14:1: loops.ticker.target: cannot import 'tickz'")
    missing = project(tmp_path, PROJECT.replace("ticks:Tick", "ticks:Tock"))
    answer = json.loads(treadle("check", "--json", cwd=str(tmp_path)).stdout)
    assert answer["ok"] is False
    assert answer["error"]["file"] == str(missing)
    assert answer["error"]["field"] == "loops.ticker.target"
    assert answer["error"]["suggestion"] == "Tick"


def test_a_procfile(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: python -m http.server $PORT\nworker: ./work --fast\n")
    done = treadle("check", "--procfile", str(procfile))
    assert done.returncode == 0, done.stderr
    assert [line.split()[:2] for line in done.stdout.splitlines()[2:]] == [
        ["web", "process"],
        ["worker", "process"],
    ]
    assert done.stderr == f"ok: 2 children in {procfile}\n"
    procfile.write_text("web: python -m http.server\nnot a line\n")
    bad = treadle("check", "--procfile", str(tmp_path), "--json")
    assert bad.returncode == 2
    error = json.loads(bad.stdout)["error"]
    assert (error["file"], error["line"], error["field"]) == (str(procfile), 2, "procfile")


def test_no_project_file(tmp_path: Path) -> None:
    done = treadle("check", cwd=str(tmp_path))
    assert done.returncode == 2
    assert "no treadle.toml" in done.stderr


FEED = """
from treadle.loop import Loop


class Feed(Loop):
    def __init__(self, step: int = 1, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.step = step

    async def run_once(self) -> None:
        pass
"""


def test_a_misspelled_loop_option_is_caught_before_it_runs(tmp_path: Path) -> None:
    """``stepp = 5`` passes the class's ``**options`` on to Loop, which would refuse it at
    run time, child after child: check says so now, where it is."""
    (tmp_path / "feed.py").write_text(FEED)
    path = tmp_path / "treadle.toml"
    path.write_text('[loops.feed]\ntarget = "feed:Feed"\noptions = { stepp = 5 }\n')
    done = treadle("check", cwd=str(tmp_path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"{path}:3:13: loops.feed.options.stepp: Feed takes no option 'stepp' "
        "(did you mean 'step'?)\n"
    )
    path.write_text('[loops.feed]\ntarget = "feed:Feed"\noptions = { step = 5 }\n')
    assert treadle("check", cwd=str(tmp_path)).returncode == 0
