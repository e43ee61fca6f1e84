"""supervisord's configuration as a treadle project (``treadle import supervisord.conf``).

Owns reading ``supervisord.conf`` as supervisord does (its ``[include]`` files, inline
``;`` comments, ``%(here)s``, ``%(program_name)s``, ``%(process_num)d`` and
``%(ENV_X)s``, which becomes ``${X}``) and the mapping of each ``[program:x]`` and
``[group:x]`` onto ``[processes.x]`` and ``[supervisors.x]``. Every option with no
equivalent is kept as a comment saying why. Writing TOML is :mod:`._draft`'s.
"""

from __future__ import annotations

import configparser
import glob
import re
import shlex
import socket
from pathlib import Path

from .._exceptions import ConfigError
from ._draft import Draft, Table, literal

__all__ = ["from_supervisord"]

_EXPANSION = re.compile(r"%\((\w+)\)([-#0 +]*\d*(?:\.\d+)?[sdifr])|%%")
_NAME = re.compile(r"[^A-Za-z0-9_-]")
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}
_SIZE = re.compile(r"(\d+)\s*(kb|mb|gb)?", re.IGNORECASE)
_RESTARTS = "restart intensity is the supervisor's: [supervisor] intensity and period"
_NO_EQUIVALENT = {
    "priority": "no equivalent: order starts with depends_on",
    "startsecs": f"no equivalent: every exit counts as a restart ({_RESTARTS})",
    "startretries": f"no equivalent: {_RESTARTS}",
    "process_name": "no equivalent: replicas are named NAME[0], NAME[1]...",
    "serverurl": "no equivalent: treadle's CLI reaches the manager through the broker",
    "stdout_capture_maxbytes": "no equivalent: no capture mode",
    "stderr_capture_maxbytes": "no equivalent: no capture mode",
    "stdout_events_enabled": "no equivalent: every line is an event (treadle logs -f)",
    "stderr_events_enabled": "no equivalent: every line is an event (treadle logs -f)",
    "stdout_syslog": "no equivalent: no syslog output",
    "stderr_syslog": "no equivalent: no syslog output",
    "stderr_logfile_maxbytes": "no equivalent: one log_max_bytes for both streams",
    "stderr_logfile_backups": "no equivalent: one log_backups for both streams",
}
_SECTIONS = {
    "supervisord": "no equivalent: the manager is `treadle up` (logs in .treadle/)",
    "unix_http_server": "no equivalent: the CLI reaches the manager through the broker",
    "inet_http_server": "no equivalent: the web UI and API: [dashboard] (a token, no password)",
    "supervisorctl": "no equivalent: the CLI is `treadle` (status, restart, logs...)",
    "rpcinterface": "no equivalent: the API is the dashboard's /api (with [dashboard])",
    "eventlistener": "no equivalent: events are `treadle logs -f`, /api/events, sup.events()",
    "fcgi-program": "no equivalent: no FastCGI sockets",
}
_SECRET = re.compile(r"pass|token|secret|key", re.IGNORECASE)

Section = tuple[str, dict[str, str], Path]  # name, options, the file it is in


def from_supervisord(path: Path, root: Path) -> Draft:
    """The project that runs what ``path`` (a supervisord.conf) runs; paths relative to
    ``root``, where the new file goes. ConfigError (file, line) for a file supervisord
    would refuse too."""
    draft = Draft(path, "supervisord", root)
    sections = _read(path)
    common = {}
    for name, options, file in sections:
        if name == "supervisord" and "environment" in options:
            common = _environment(options["environment"], file, name)
    programs: dict[str, list[str]] = {}
    for name, options, file in sections:
        kind, _, label = name.partition(":")
        if kind == "program":
            programs[label] = _program(draft, label, options, file.parent.resolve(), common)
        elif kind == "supervisord" and "environment" in options:
            draft.note("[supervisord] environment: given to every program (their env)")
            rest = {k: v for k, v in options.items() if k != "environment"}
            _keep(draft, name, rest, _SECTIONS[kind])
        elif kind not in ("group", "include"):
            _keep(draft, name, options, _SECTIONS.get(kind, "no equivalent"))
    for name, options, file in sections:
        kind, _, label = name.partition(":")
        if kind == "group":
            _group(draft, label, options, programs, file)
    return draft


def _read(path: Path) -> list[Section]:
    """Every section of ``path`` and of the files its ``[include]`` names, in order."""
    first = _parse(path)
    sections: list[Section] = [(s, dict(first[s]), path) for s in first.sections()]
    for pattern in shlex.split(first.get("include", "files", fallback="")):
        for name in sorted(glob.glob(str(path.parent / pattern))):
            other = _parse(Path(name))
            sections += [(s, dict(other[s]), Path(name)) for s in other.sections()]
    return sections


def _parse(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    try:
        with path.open(encoding="utf-8") as f:
            parser.read_file(f)
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(
            "section", "a line before any [section]", file=str(path), line=exc.lineno
        ) from None
    except configparser.ParsingError as exc:
        line, text = exc.errors[0]
        raise ConfigError(
            "line", f"not `key = value`: {text.strip()}", file=str(path), line=line
        ) from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError("file", str(exc).splitlines()[0], file=str(path)) from None
    return parser


def _program(
    draft: Draft, name: str, options: dict[str, str], here: Path, common: dict[str, str]
) -> list[str]:
    """``[program:NAME]`` as one table (``replicas`` for ``numprocs``), or one per process
    where ``%(process_num)`` makes them differ; the names of the tables."""
    where = f"program:{name}"
    if "command" not in options:
        raise ConfigError(
            f"[{where}] command", "missing (supervisord needs it too)", file=str(here)
        )
    count = _int(options.get("numprocs", "1"), where, "numprocs")
    start = _int(options.get("numprocs_start", "0"), where, "numprocs_start")
    differ = count > 1 and any(
        "process_num" in v for k, v in options.items() if k != "process_name"
    )
    if not differ:
        table = draft.table("processes", _NAME.sub("-", name))
        _options(draft, table, name, options, here, common, start, count)
        if count > 1:
            table.set("replicas", count, "numprocs")
        return [table.path[1]]
    names = []
    for num in range(start, start + count):
        label = _expand(options.get("process_name", f"{name}_{num:02d}"), name, here, num, count)
        table = draft.table("processes", _NAME.sub("-", label.replace("$$", "$")))
        _options(draft, table, name, options, here, common, num, count)
        table.note(f"numprocs = {count}: one table per process (%(process_num) sets them apart)")
        names.append(table.path[1])
    return names


def _options(
    draft: Draft,
    table: Table,
    name: str,
    options: dict[str, str],
    here: Path,
    common: dict[str, str],
    num: int,
    count: int,
) -> None:
    where = f"program:{name}"

    def value(key: str) -> str:
        return _expand(options[key], name, here, num, count)

    table.set("command", value("command"))
    if "directory" in options:
        table.set("cwd", draft.path(value("directory"), here))
    env = common | (
        _environment(value("environment"), here, where) if "environment" in options else {}
    )
    if env:
        table.set("env", env)
    for key, target in (("user", "user"), ("umask", "umask")):
        if key in options:
            table.set(target, value(key))
    autorestart = options.get("autorestart", "unexpected").lower()
    restart = (
        {"unexpected": "transient"}
        | dict.fromkeys(_TRUE, "permanent")
        | dict.fromkeys(_FALSE, "temporary")
    )
    if autorestart not in restart:
        raise ConfigError(
            f"[{where}] autorestart",
            f"not true, false or unexpected: {autorestart!r}",
            file=str(here),
        )
    table.set(
        "restart",
        restart[autorestart],
        f"autorestart = {autorestart}"
        if "autorestart" in options
        else "supervisord's default: autorestart = unexpected",
    )
    if "exitcodes" in options:
        table.set(
            "normal_exit_codes",
            [_int(c, where, "exitcodes") for c in value("exitcodes").split(",")],
        )
    if not _bool(options.get("autostart", "true"), where, "autostart"):
        table.set(
            "profiles", ["manual"], "autostart = false: runs with `treadle up --profile manual`"
        )
    if "stopsignal" in options:
        sig = options["stopsignal"].upper()
        table.set("stop_signal", sig if sig.startswith("SIG") else "SIG" + sig)
    if "stopwaitsecs" in options:
        table.set("stop_timeout", f"{_int(options['stopwaitsecs'], where, 'stopwaitsecs')}s")
    if "stopasgroup" in options or "killasgroup" in options:
        group = any(
            _bool(options.get(k, "false"), where, k) for k in ("stopasgroup", "killasgroup")
        )
        table.set("kill_group", group, "stopasgroup / killasgroup")
    if _bool(options.get("redirect_stderr", "false"), where, "redirect_stderr"):
        table.set("merge_output", True, "redirect_stderr = true")
    for stream in ("stdout", "stderr"):
        key = f"{stream}_logfile"
        if key in options:
            log = value(key)
            if log.upper() in ("AUTO", "NONE") or log.lower() == "syslog":
                table.note(f"{key} = {log}: treadle writes .treadle/logs/{table.path[1]}.log")
            else:
                table.set(stream, draft.path(log, here))
    if "stdout_logfile_maxbytes" in options:
        size = _size(options["stdout_logfile_maxbytes"], where)
        if size is None:
            table.note("stdout_logfile_maxbytes = 0: no equivalent: logs are always rotated")
        else:
            table.set("log_max_bytes", size)
    if "stdout_logfile_backups" in options:
        table.set(
            "log_backups", _int(options["stdout_logfile_backups"], where, "stdout_logfile_backups")
        )
    for key, why in _NO_EQUIVALENT.items():
        if key in options and not (key == "process_name" and table.path[1] != name):
            table.note(f"{key} = {options[key]}: {why}")
    known = {"command", "directory", "environment", "user", "umask", "autorestart", "exitcodes"}
    known |= {"autostart", "stopsignal", "stopwaitsecs", "stopasgroup", "killasgroup"}
    known |= {"redirect_stderr", "stdout_logfile", "stderr_logfile", "stdout_logfile_maxbytes"}
    known |= {"stdout_logfile_backups", "numprocs", "numprocs_start", *_NO_EQUIVALENT}
    for key in options.keys() - known:
        table.note(f"{key} = {options[key]}: no equivalent")


def _group(
    draft: Draft, name: str, options: dict[str, str], programs: dict[str, list[str]], file: Path
) -> None:
    table = draft.table("supervisors", _NAME.sub("-", name))
    children = []
    for program in options.get("programs", "").split(","):
        if program.strip() not in programs:
            raise ConfigError(
                f"[group:{name}] programs", f"no [program:{program.strip()}]", file=str(file)
            )
        children += programs[program.strip()]
    table.set("children", children)
    for key, val in options.items():
        if key != "programs":
            table.note(
                f"{key} = {val}: no equivalent"
                + (": order starts with depends_on" if key == "priority" else "")
            )


def _keep(draft: Draft, section: str, options: dict[str, str], why: str) -> None:
    """A section with no equivalent, kept whole as a comment (secrets left out)."""
    lines = [f"[{section}]: {why}"]
    for key, val in options.items():
        lines.append(f"  {key} = {'(not copied)' if _SECRET.search(key) else val}")
    draft.note("\n".join(lines))


def _expand(text: str, program: str, here: Path, num: int, count: int) -> str:
    """supervisord's ``%(name)s`` expansions, done now; ``%(ENV_X)s`` becomes ``${X}`` (the
    environment of ``treadle up``, as supervisord's is at its start); the rest literal."""
    context: dict[str, object] = {
        "here": str(here),
        "program_name": program,
        "group_name": program,
        "host_node_name": socket.gethostname(),
        "process_num": num,
        "numprocs": count,
    }
    out, last = [], 0
    for match in _EXPANSION.finditer(text):
        out.append(literal(text[last : match.start()]))
        last = match.end()
        key, spec = match.group(1), match.group(2)
        if key is None:
            out.append("%")
        elif key.startswith("ENV_"):
            out.append("${" + key[4:] + "}")
        elif key in context:
            out.append(literal(("%" + spec) % context[key]))
        else:
            raise ConfigError(f"[program:{program}]", f"unknown expansion %({key})", file=str(here))
    return "".join(out) + literal(text[last:])


def _environment(text: str, file: Path, section: str) -> dict[str, str]:
    """``KEY="value",KEY2=value2`` read as supervisord reads it."""
    lexer = shlex.shlex(text)
    lexer.wordchars += "/.+-():${}%@*~"
    tokens = list(lexer)
    env: dict[str, str] = {}
    for i in range(0, len(tokens), 4):
        key_eq_value = tokens[i : i + 3]
        if len(key_eq_value) != 3 or key_eq_value[1] != "=":
            raise ConfigError(
                f"[{section}] environment", f"not KEY=value,...: {text!r}", file=str(file)
            )
        env[key_eq_value[0]] = key_eq_value[2].strip("'\"")
    return env


def _int(text: str, section: str, key: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(f"[{section}] {key}", f"not a whole number: {text!r}") from None


def _bool(text: str, section: str, key: str) -> bool:
    if text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    raise ConfigError(f"[{section}] {key}", f"not true or false: {text!r}")


def _size(text: str, section: str) -> str | None:
    """supervisord's sizes count in 1024s: ``50MB`` is treadle's ``"50MiB"``; None for 0
    (no rotation)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"[{section}] stdout_logfile_maxbytes", f"not a size: {text!r}")
    unit = match.group(2)
    if int(match.group(1)) == 0:
        return None
    return match.group(1) + (unit[0].upper() + "iB" if unit else "")
