"""``treadle startup``: the systemd unit it writes (read back as systemd reads it, and
checked by ``systemd-analyze verify`` where there is one), and the enable step on a
machine without systemd, through the real ``treadle`` command."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from treadle.cli._unit import quote, unit_name

from ._support import TREADLE

PROJECT = """
[project]
name = "shop"

[processes.web]
command = "sleep 60"
stop_timeout = "75s"
"""


def startup(cwd: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TREADLE_BROKER", "SUDO_USER")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [TREADLE, "startup", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
    )


def read_unit(text: str) -> configparser.RawConfigParser:
    unit = configparser.RawConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    unit.read_string(text)
    return unit


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "my shop"  # a space: the unit must quote it
    root.mkdir()
    (root / "treadle.toml").write_text(textwrap.dedent(PROJECT).lstrip())
    return root


def test_print_shows_the_unit_and_where_it_goes_and_writes_nothing(shop: Path) -> None:
    done = startup(shop, "--print", "--system", "--unit-dir", str(shop / "units"))
    assert done.returncode == 0, done.stderr
    first, text = done.stdout.split("\n", 1)
    assert first == f"# {shop / 'units' / 'treadle-shop.service'}"
    assert not (shop / "units").exists()
    service = read_unit(text)["Service"]
    assert service["Type"] == "notify"  # READY=1 and WATCHDOG=1 from the manager
    assert service["WatchdogSec"] == "30"
    assert service["KillMode"] == "mixed"  # SIGTERM to `treadle up`, SIGKILL for the rest
    assert int(service["TimeoutStopSec"]) >= 75  # the slowest child's stop_timeout
    argv = shlex.split(service["ExecStart"])  # systemd's quoting reads as the shell's here
    assert argv == [TREADLE, "up", "--file", str(shop / "treadle.toml")]
    assert service["WorkingDirectory"] == str(shop)  # the rest of the line, never quoted
    assert service["Environment"] == f"PATH={os.environ['PATH']}"  # as `pm2 startup` keeps it
    assert read_unit(text)["Install"]["WantedBy"] == "multi-user.target"


def test_a_user_unit_waits_for_no_network_target_and_is_wanted_by_default(shop: Path) -> None:
    done = startup(shop, "--print", "--user", "--watchdog", "0")
    assert done.returncode == 0, done.stderr
    first, text = done.stdout.split("\n", 1)
    assert first.endswith("/systemd/user/treadle-shop.service")
    unit = read_unit(text)
    assert "After" not in unit["Unit"]
    assert "WatchdogSec" not in unit["Service"]
    assert "User" not in unit["Service"]
    assert unit["Install"]["WantedBy"] == "default.target"


def test_the_written_unit_is_one_systemd_accepts(shop: Path) -> None:
    units = shop / "units"
    done = startup(shop, "--no-enable", "--system", "--run-as", "root", "--unit-dir", str(units))
    assert done.returncode == 0, done.stderr
    path = units / "treadle-shop.service"
    assert done.stdout == f"wrote {path}\n"
    assert path.stat().st_mode & 0o777 == 0o644
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze to verify the unit with")
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (verify.returncode, verify.stderr) == (0, "")


def test_without_systemctl_the_unit_is_written_and_one_line_says_what_to_do(shop: Path) -> None:
    empty = shop / "bin"
    empty.mkdir()
    units = shop / "units"
    done = startup(shop, "--system", "--unit-dir", str(units), path=str(empty))
    assert done.returncode == 1
    assert (units / "treadle-shop.service").is_file()
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "systemctl is not on PATH" in done.stderr
    assert f"systemctl enable {units / 'treadle-shop.service'}" in done.stderr


def test_where_systemd_does_not_run_systemctl_says_why_in_one_line(shop: Path) -> None:
    if shutil.which("systemctl") is None:
        pytest.skip("no systemctl")
    state = subprocess.run(
        ["systemctl", "is-system-running"], capture_output=True, text=True, timeout=30
    )
    if state.stdout.strip() != "offline":
        pytest.skip("systemd runs this machine: the test would enable a real unit")
    done = startup(shop, "--system", "--unit-dir", str(shop / "units"))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "did not enable it: `systemctl daemon-reload` failed:" in done.stderr


def test_remove_deletes_the_unit(shop: Path) -> None:
    units = shop / "units"
    assert startup(shop, "--no-enable", "--system", "--unit-dir", str(units)).returncode == 0
    done = startup(shop, "--remove", "--system", "--unit-dir", str(units), path=str(units))
    assert not (units / "treadle-shop.service").exists()
    assert done.stdout == f"removed {units / 'treadle-shop.service'}\n"
    assert done.returncode == 1  # no systemctl to disable it with: said so
    again = startup(shop, "--remove", "--system", "--unit-dir", str(units))
    assert again.returncode == 0
    assert "nothing to remove" in again.stderr


def test_a_bad_run_as_user_is_one_line(shop: Path) -> None:
    done = startup(shop, "--print", "--system", "--run-as", "no-such-user-here")
    assert done.returncode == 1
    assert done.stderr == "treadle: --run-as: no user 'no-such-user-here' on this machine\n"


@pytest.mark.parametrize(
    ("word", "quoted"),
    [
        ("/srv/shop/treadle.toml", "/srv/shop/treadle.toml"),
        ("/srv/my shop", '"/srv/my shop"'),
        ("50%", "50%%"),  # a specifier otherwise
        ("$HOME", '"$$HOME"'),  # a variable otherwise
        ('say "hi"', '"say \\"hi\\""'),
        ("", '""'),
    ],
)
def test_words_are_quoted_as_systemd_reads_them(word: str, quoted: str) -> None:
    assert quote(word) == quoted


def test_a_project_name_becomes_a_unit_name_systemd_takes() -> None:
    assert unit_name("shop") == "treadle-shop.service"
    assert unit_name("my shop/2") == "treadle-my-shop-2.service"
