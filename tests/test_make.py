"""``make up`` installs what running needs and nothing else; ``make test`` the rest too."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_ONLY = ("mypy", "playwright", "schemathesis", "pytest", "ruff", "hypothesis")


def planned(target: str, tmp_path: Path) -> str:
    """The commands ``make TARGET`` would run for a fresh venv (printed, not run)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(  # as from a shell, also when the suite runs under make test
        ["make", "--no-print-directory", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_running_needs_none_of_the_dev_tools() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not names(project["dependencies"]) & set(DEV_ONLY)
    assert set(DEV_ONLY) <= names(project["optional-dependencies"]["dev"])


def test_make_up_installs_the_package_alone_and_make_test_its_dev_extra(tmp_path: Path) -> None:
    up = planned("up", tmp_path)
    installs = [
        line for line in up.splitlines() if " install " in line and "--upgrade pip" not in line
    ]
    assert [line.split("install -q ", 1)[1] for line in installs] == ["-e ."]
    assert "[dev]" not in up
    assert "treadle up" in up.splitlines()[-1]
    assert "pip install -q -e '.[dev,docs]'" in planned("test", tmp_path)
