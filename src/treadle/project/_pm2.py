"""PM2's ecosystem file, in its JSON form, as a treadle project
(``treadle import ecosystem.config.json``).

Owns reading the file (``{"apps": [...]}``, a list of apps, or one app) and the mapping of
each app onto ``[processes.NAME]``: the command from ``interpreter``, its arguments,
``script`` and ``args`` (the interpreter guessed from the script's extension as PM2 does);
``instances``, ``env``, ``cwd``, ``max_memory_restart``, restart delays, log files and
the rest. Every option with no equivalent is kept as a comment saying why. Writing TOML
is :mod:`._draft`'s; the JavaScript form (``ecosystem.config.js``) is not read here (it
is a program: the CLI says how to turn it into JSON).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError
from ._draft import Draft, Table, literal
from ._units import format_duration

__all__ = ["from_pm2"]

_NAME = re.compile(r"[^A-Za-z0-9_-]")
_MEMORY = re.compile(r"(\d+)\s*([KMG])?B?", re.IGNORECASE)
# PM2's own choice of interpreter by the script's extension (python3 where PM2 says
# python: Debian and others have no `python`); anything else is run as it is.
_INTERPRETERS = {
    ".js": "node",
    ".cjs": "node",
    ".mjs": "node",
    ".py": "python3",
    ".sh": "bash",
    ".rb": "ruby",
    ".php": "php",
    ".pl": "perl",
    ".coffee": "coffee",
}
_RESTARTS = "restart intensity is the supervisor's: [supervisor] intensity and period"
_NO_EQUIVALENT = {
    "cron_restart": "no equivalent: children restart when they fail, not on a schedule",
    "watch": "no equivalent: no file watching; `treadle reload` applies an edited file",
    "ignore_watch": "no equivalent: no file watching",
    "watch_options": "no equivalent: no file watching",
    "watch_delay": "no equivalent: no file watching",
    "max_restarts": f"no equivalent: {_RESTARTS}",
    "min_uptime": f"no equivalent: {_RESTARTS}",
    "listen_timeout": "no equivalent: readiness is a health check (health = { http = ... })",
    "wait_ready": "no equivalent: readiness is a health check (health = { http = ... })",
    "shutdown_with_message": "no equivalent: stop_signal is sent",
    "log_file": "no equivalent: the combined log is .treadle/logs/NAME.log",
    "log": "no equivalent: the combined log is .treadle/logs/NAME.log",
    "merge_logs": "no equivalent: each replica's lines are tagged with its name",
    "combine_logs": "no equivalent: each replica's lines are tagged with its name",
    "log_date_format": "no equivalent: every line is timestamped",
    "log_type": 'no equivalent: [logging] format = "json" is the project\'s',
    "time": "no equivalent: every line is timestamped",
    "pid_file": "no equivalent: `treadle status` shows the pid",
    "pid": "no equivalent: `treadle status` shows the pid",
    "namespace": "no equivalent: a project is its own namespace",
    "instance_var": "no equivalent: replicas are told apart by name (NAME[0], NAME[1]...)",
    "increment_var": "no equivalent: replicas get the same environment",
    "source_map_support": "no equivalent: node's --enable-source-maps in interpreter_args",
    "vizion": "no equivalent: no version control metadata",
    "post_update": "no equivalent: no deployment",
    "force": "no equivalent: one child per name",
    "append_env_to_name": "no equivalent",
    "disable_logs": "no equivalent: output is always logged",
    "filter_env": "no equivalent: inherit_env = false starts from an empty environment",
    "automation": "no equivalent: no PM2.io",
    "pmx": "no equivalent: no PM2.io",
}
_HANDLED = {
    "name", "script", "args", "interpreter", "exec_interpreter", "interpreter_args",
    "node_args", "cwd", "env", "instances", "exec_mode", "max_memory_restart", "autorestart",
    "stop_exit_codes", "restart_delay", "exp_backoff_restart_delay", "kill_timeout",
    "out_file", "output", "error_file", "error", "user", "uid", "gid", "treekill",
}  # fmt: skip


def from_pm2(path: Path, root: Path) -> Draft:
    """The project that runs the apps of ``path`` (an ecosystem file's JSON form); paths
    relative to ``root``, where the new file goes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            "json", exc.msg, file=str(path), line=exc.lineno, column=exc.colno
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError("file", str(exc), file=str(path)) from None
    apps = data.get("apps", []) if isinstance(data, dict) and "apps" in data else data
    apps = [apps] if isinstance(apps, dict) else apps
    if not isinstance(apps, list) or not apps or not all(isinstance(a, dict) for a in apps):
        raise ConfigError("apps", 'no apps: expected {"apps": [{...}, ...]}', file=str(path))
    draft = Draft(path, "PM2", root)
    if isinstance(data, dict):
        for key in data.keys() - {"apps"}:
            draft.note(f"{key}: no equivalent" + (" (no deployment)" if key == "deploy" else ""))
    for index, app in enumerate(apps):
        _app(draft, app, index, path)
    return draft


def _app(draft: Draft, app: Mapping[str, Any], index: int, file: Path) -> None:
    where = f"apps[{index}]"
    script = app.get("script")
    if not isinstance(script, str) or not script:
        raise ConfigError(f"{where}.script", "missing (PM2 needs it too)", file=str(file))
    name = str(app.get("name") or Path(script).stem)
    table = draft.table("processes", _NAME.sub("-", name) or f"app{index}")
    base = file.parent / str(app.get("cwd", "."))
    table.set("command", [literal(word) for word in _command(app, script, base, where, file)])
    if draft.path(str(base)) != ".":
        table.set("cwd", literal(draft.path(str(base))))
    env = app.get("env")
    if isinstance(env, dict) and env:
        table.set("env", {str(k): literal(_text(v)) for k, v in env.items()})
    _instances(table, app.get("instances"), app.get("exec_mode"))
    _restarts(table, app, where, file)
    if "max_memory_restart" in app:
        table.set("memory_limit", _memory(app["max_memory_restart"], where, file))
    for keys, target in ((("out_file", "output"), "stdout"), (("error_file", "error"), "stderr")):
        for key in keys:
            if isinstance(app.get(key), str):
                table.set(target, literal(draft.path(app[key], base)))
    for key, target in (("user", "user"), ("uid", "user"), ("gid", "group")):
        if key in app:
            table.set(target, app[key] if isinstance(app[key], int) else str(app[key]))
    if app.get("treekill") is False:
        table.set("kill_group", False, "treekill = false")
    for key, value in app.items():
        if key.startswith("env_"):
            names = ", ".join(sorted(value)) if isinstance(value, dict) else value
            table.note(f"{key} ({names}): no equivalent: one env; `${{VAR}}` reads the environment")
        elif key in _NO_EQUIVALENT:
            table.note(f"{key} = {json.dumps(value)}: {_NO_EQUIVALENT[key]}")
        elif key not in _HANDLED:
            table.note(f"{key} = {json.dumps(value)}: no equivalent")


def _command(app: Mapping[str, Any], script: str, base: Path, where: str, file: Path) -> list[str]:
    interpreter = app.get("interpreter") or app.get("exec_interpreter")
    if interpreter is None:
        interpreter = _INTERPRETERS.get(Path(script).suffix.lower(), "none")
    args = _words(app.get("args", []), f"{where}.args", file)
    if interpreter == "none":  # run as it is: an executable's path is its own, not the cwd's
        path = base / script
        program = str(path.resolve()) if "/" in script or path.exists() else script  # or PATH's
        return [program, *args]
    extra = _words(
        app.get("interpreter_args", app.get("node_args", [])), f"{where}.interpreter_args", file
    )
    return [str(interpreter), *extra, script, *args]


def _instances(table: Table, instances: object, mode: object) -> None:
    cores = os.cpu_count() or 1
    if instances in (0, -1, "max", "0", "-1"):
        count = max(1, cores - 1) if str(instances) == "-1" else cores
        table.set(
            "replicas",
            count,
            f"instances = {json.dumps(instances)}: this machine has {cores} cores",
        )
    elif instances is not None:
        table.set("replicas", max(1, int(str(instances))))
    if mode in ("cluster", "cluster_mode"):
        table.note(
            f"exec_mode = {json.dumps(mode)}: no equivalent: each replica is its own process "
            "(no shared port: give each its own, or listen with SO_REUSEPORT)"
        )


def _restarts(table: Table, app: Mapping[str, Any], where: str, file: Path) -> None:
    codes = app.get("stop_exit_codes")
    if app.get("autorestart") is False:
        table.set("restart", "temporary", "autorestart = false")
    elif codes is not None:
        codes = codes if isinstance(codes, list) else [codes]
        table.set("restart", "transient", "stop_exit_codes: not restarted after those")
        table.set("normal_exit_codes", [int(c) for c in codes])
    if "restart_delay" in app:
        delay = _ms(app["restart_delay"], f"{where}.restart_delay", file)
        table.set(
            "backoff",
            {"initial": delay, "max": delay, "multiplier": 1.0, "jitter": "none"},
            "restart_delay",
        )
    elif "exp_backoff_restart_delay" in app:
        first = _ms(app["exp_backoff_restart_delay"], f"{where}.exp_backoff_restart_delay", file)
        table.set(
            "backoff",
            {"initial": first, "max": "15s", "multiplier": 1.5},
            "exp_backoff_restart_delay, as PM2 grows it",
        )
    if "kill_timeout" in app:
        table.set("stop_timeout", _ms(app["kill_timeout"], f"{where}.kill_timeout", file))


def _words(value: object, field: str, file: Path) -> list[str]:
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list):
        return [_text(v) for v in value]
    raise ConfigError(field, f"not a string or a list: {value!r}", file=str(file))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _ms(value: object, field: str, file: Path) -> str:
    """PM2's milliseconds as a treadle duration (``3000`` is ``"3s"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return format_duration(value / 1000)
    raise ConfigError(field, f"not milliseconds: {value!r}", file=str(file))


def _memory(value: object, where: str, file: Path) -> str | int:
    """PM2's ``"300M"`` counts in 1024s: treadle's ``"300MiB"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _MEMORY.fullmatch(str(value).strip())
    if match is None:
        raise ConfigError(f"{where}.max_memory_restart", f"not a size: {value!r}", file=str(file))
    unit = match.group(2)
    return match.group(1) + (unit.upper() + "iB" if unit else "")
