"""``treadle startup``: the project started at boot by systemd, as ``pm2 startup`` does.

Owns where the unit goes (``/etc/systemd/system`` for a system unit, the user's
``~/.config/systemd/user`` for a user unit, or ``--unit-dir``), writing it, and the
``systemctl`` calls that enable it (or, with ``--remove``, disable and delete it). What
the unit says is ``_unit``'s. Where ``systemctl`` is missing or systemd is not running,
the unit is still written and one line says what to do.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import click

from .._exceptions import TreadleError
from ._app import Exit, broker_option
from ._output import console, errors
from ._unit import Unit, treadle_command

__all__ = ["startup"]


@click.command(short_help="Start the project at boot: a systemd unit, written and enabled.")
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(exists=True, path_type=Path),
    help="The project file (default: treadle.toml or pyproject.toml, here or above).",
)
@click.option(
    "--procfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Run a Procfile instead.",
)
@broker_option
@click.option(
    "--user/--system",
    "user_unit",
    default=None,
    help="A user unit (~/.config/systemd/user) or a system one (default: system as root).",
)
@click.option("--run-as", metavar="USER", help="A system unit's User= (default: $SUDO_USER).")
@click.option("--unit-dir", type=click.Path(path_type=Path), help="Write the unit here instead.")
@click.option(
    "--watchdog", type=float, default=30.0, show_default=True, help="WatchdogSec (0: none)."
)
@click.option("--now", is_flag=True, help="Also start it now (systemctl enable --now).")
@click.option("--no-enable", is_flag=True, help="Write the unit only.")
@click.option("--remove", is_flag=True, help="Disable the unit and delete it.")
@click.option(
    "--print", "--dry-run", "dry_run", is_flag=True, help="Print the unit; change nothing."
)
def startup(
    file: Path | None,
    procfile: Path | None,
    broker: str | None,
    user_unit: bool | None,
    run_as: str | None,
    unit_dir: Path | None,
    watchdog: float,
    now: bool,
    no_enable: bool,
    remove: bool,
    dry_run: bool,
) -> int:
    """Write a systemd unit that runs `treadle up` for this project, and enable it.

    The unit is Type=notify: the manager tells systemd when it is up and pings its
    watchdog; `systemctl stop` stops every child gracefully. As root it is a system unit
    (run as $SUDO_USER under sudo, or --run-as); as anyone else a user unit, which starts
    at boot once `loginctl enable-linger` allows it.

    \b
    Examples:
      treadle startup --print          the unit, and where it would go
      sudo treadle startup --now       enable it and start it now
      treadle startup --user           a user unit: no root needed
      treadle startup --remove         disable and delete it
    """
    from ..project import load_procfile, load_project

    config = load_procfile(procfile) if procfile is not None else load_project(file)
    system = os.geteuid() == 0 if user_unit is None else not user_unit
    user = run_as or (os.environ.get("SUDO_USER") if system else None)
    if user is not None and user != "root":
        _known_user(user)
    unit = Unit(
        config,
        treadle_command(sys.executable),
        user=None if user == "root" else user,
        system=system,
        path=os.environ.get("PATH"),
        broker=broker,
        watchdog=max(watchdog, 0.0),
    )
    directory = unit_dir or _default_dir(system)
    path = directory / unit.name
    custom = unit_dir is not None
    if dry_run:
        console.print(f"# {path}", markup=False)
        console.print(unit.text(), end="", markup=False, soft_wrap=True)
        return Exit.OK
    if remove:
        return _remove(path, system, custom)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(unit.text())
    path.chmod(0o644)
    console.print(f"wrote {path}", markup=False)
    if no_enable:
        return Exit.OK
    target = str(path) if custom else unit.name  # a unit outside systemd's paths: linked
    enable = ["enable", *(["--now"] if now else []), target]
    failed = _systemctl(system, ["daemon-reload"], enable) or _systemctl(system, enable)
    if failed:
        click.echo(f"treadle: wrote {path} but did not enable it: {failed}", err=True)
        return Exit.FAILED
    ctl = _ctl(system)
    how = "started; it starts" if now else f"`{ctl} start {unit.name}` starts it now; it starts"
    console.print(f"enabled {unit.name}: {how} at boot", markup=False)
    if not system:
        console.print("(at boot without a login: `loginctl enable-linger`)", markup=False)
    return Exit.OK


def _default_dir(system: bool) -> Path:
    if system:
        return Path("/etc/systemd/system")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def _known_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise TreadleError(f"--run-as: no user {name!r} on this machine") from None


def _remove(path: Path, system: bool, custom: bool) -> int:
    if not path.exists():
        errors.print(f"no unit at {path}: nothing to remove", markup=False)
        return Exit.OK
    disable = ["disable", "--now", str(path) if custom else path.name]
    failed = _systemctl(system, disable)
    path.unlink()
    console.print(f"removed {path}", markup=False)
    failed = failed or _systemctl(system, ["daemon-reload"])
    if failed:
        click.echo(f"treadle: {path.name} may still be enabled: {failed}", err=True)
        return Exit.FAILED
    return Exit.OK


def _ctl(system: bool) -> str:
    return "systemctl" if system else "systemctl --user"


def _systemctl(system: bool, args: list[str], then: list[str] | None = None) -> str | None:
    """Run ``systemctl [--user] ARGS``; None if it succeeded, else why not, in one line
    (which says what to run instead: ``then``, the step that matters, else ``args``)."""
    if shutil.which("systemctl") is None:
        return (
            "systemctl is not on PATH: this machine does not run systemd; where it does, run "
            f"`{_ctl(system)} {' '.join(then or args)}`, or here `treadle up -d`"
        )
    argv = ["systemctl", *([] if system else ["--user"]), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode == 0:
        return None
    said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return f"`{' '.join(argv)}` failed: {said[0] if said else f'exit {done.returncode}'}"
