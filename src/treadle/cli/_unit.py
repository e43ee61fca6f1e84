"""A systemd service unit that runs a project: its text, and systemd's quoting.

Owns what ``treadle startup`` writes: a ``Type=notify`` service whose ``ExecStart`` is
``treadle up`` in the foreground (the manager says ``READY=1`` and pings the watchdog:
:mod:`treadle.manager._sdnotify`), stopped by SIGTERM (a graceful stop of every child)
with ``KillMode=mixed`` for whatever is left after ``TimeoutStopSec``. Pure: where the
file goes and how it is enabled are ``_startup``'s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..project import ProjectConfig

__all__ = ["Unit", "quote", "treadle_command", "unit_name"]

_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_NAME_CHAR = re.compile(r"[^A-Za-z0-9:_.\\-]")


def quote(arg: str) -> str:
    """One word of ``ExecStart=`` or ``Environment=``, as systemd reads it back: quoted
    where it must be, ``%`` (a specifier) and ``$`` (a variable) doubled."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if arg and _SAFE.fullmatch(arg):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_name(project: str) -> str:
    """``treadle-NAME.service``, with what systemd refuses in a name replaced."""
    return f"treadle-{_NAME_CHAR.sub('-', project)}.service"


@dataclass(frozen=True)
class Unit:
    """The service unit for one project.

    Args:
        config: the project (its file, root, name and stop timeouts).
        command: what runs ``treadle`` (the script, or ``python -m treadle``).
        user: a system unit's ``User=`` (None: root, or a user unit's own user).
        system: a system unit (``WantedBy=multi-user.target``), else a user unit.
        path: the ``PATH`` its processes see (the one ``treadle startup`` ran with).
        broker: ``--broker`` for ``treadle up``, if one was named.
        watchdog: ``WatchdogSec=`` (0: none).
    """

    config: ProjectConfig
    command: Sequence[str]
    user: str | None = None
    system: bool = True
    path: str | None = None
    broker: str | None = None
    watchdog: float = 30.0

    @property
    def name(self) -> str:
        return unit_name(self.config.name)

    def exec_start(self) -> list[str]:
        source = "--procfile" if self.config.path.name == "Procfile" else "--file"
        argv = [*self.command, "up", source, str(self.config.path)]
        return argv + (["--broker", self.broker] if self.broker else [])

    def stop_timeout(self) -> int:
        """Seconds systemd waits for a graceful stop: the longest a child may take, and
        a margin for the manager itself."""
        c = self.config
        longest = [p.stop_timeout for p in c.processes.values()]
        longest += [x.shutdown_timeout or 0.0 for x in (*c.loops.values(), *c.processes.values())]
        longest += [c.supervisor.shutdown_timeout or 0.0]
        return max(30, math.ceil(max(longest, default=0.0)) + 30)

    def text(self) -> str:
        c = self.config
        service = [
            "Type=notify",
            "NotifyAccess=main",
            *([f"User={self.user}"] if self.user else []),
            f"WorkingDirectory={str(c.root).replace('%', '%%')}",  # the line, unquoted
            *([f"Environment={quote('PATH=' + self.path)}"] if self.path else []),
            f"ExecStart={' '.join(quote(a) for a in self.exec_start())}",
            "Restart=on-failure",
            "RestartSec=2",
            *([f"WatchdogSec={_seconds(self.watchdog)}"] if self.watchdog > 0 else []),
            "TimeoutStartSec=90",
            f"TimeoutStopSec={self.stop_timeout()}",
            "KillMode=mixed",
        ]
        lines = [
            f"# Written by `treadle startup` for the project {c.name} ({c.path}).",
            "# `treadle startup --remove` disables and deletes it.",
            "[Unit]",
            f"Description=treadle: {c.name} ({c.path})",
            *(
                ["After=network-online.target", "Wants=network-online.target"]
                if self.system
                else []
            ),
            "",
            "[Service]",
            "# SIGTERM (systemctl stop) stops every child gracefully; SIGKILL for what is left",
            *service,
            "",
            "[Install]",
            f"WantedBy={'multi-user.target' if self.system else 'default.target'}",
        ]
        return "\n".join(lines) + "\n"


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value}s"


def treadle_command(python: str) -> list[str]:
    """The ``treadle`` script beside ``python`` (a venv's), else ``python -m treadle``."""
    script = Path(python).parent / "treadle"
    return [str(script)] if script.is_file() else [python, "-m", "treadle"]
