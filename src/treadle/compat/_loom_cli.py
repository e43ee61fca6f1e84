"""Loom's runtime commands (``loom run``, ``loom up``, ``loom down``) as :func:`main`.

Owns parsing ``loom.cli``'s arguments for those three and what each does: ``run`` runs
one script, or a project's agents (``agents/*.py`` and its ``main.py``, ``run.py`` or
``app.py``) under the orchestrator; ``up`` starts the runtime, records its ``[bridge]``
in ``./loom.toml`` (the rest of the file kept as it was) and waits; ``down`` stops the
runtimes this user started from Loom's cache (an orchestrator whose runtime ends stops
its agents). Run it as ``python -m treadle.compat.loom COMMAND``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Final

import psutil

from ._loom_binaries import cache_dir
from ._loom_config import LOOM_TOML
from ._loom_embedded import RUNTIME_BINARY, start_bridge, start_core
from ._loom_orchestrator import MODES, OrchestratorConfig, run_orchestrator

__all__ = ["main"]

_ENTRY_POINTS: Final = ("main.py", "run.py", "app.py")
_RUNTIME_NAMES: Final = frozenset({RUNTIME_BINARY, "loom-server"})
_HEADER: Final = re.compile(r"^\s*\[\s*bridge\s*\]\s*(#.*)?$")
_TABLE: Final = re.compile(r"^\s*\[")
_log = logging.getLogger("treadle.compat.loom")


def main(argv: Sequence[str] | None = None) -> int:
    """``loom run|up|down ...``; the exit status."""
    parser = argparse.ArgumentParser(prog="loom", description="Loom's runtime, on treadle")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run a project (runtime + agents) or one script")
    run.add_argument("script", nargs="?", default=None, help="project directory or script")
    _runtime_options(run)
    run.add_argument("--startup-wait", type=float, default=2.0, help="seconds before agents")
    run.add_argument("--logs", action="store_true", help="logs in the project's logs/")
    run.set_defaults(func=_run)
    up = sub.add_parser("up", help="start the runtime (bridge, or full with the dashboard)")
    _runtime_options(up)
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="stop the runtimes started from Loom's cache")
    down.set_defaults(func=_down)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[loom] %(message)s")
    status: int = args.func(args)
    return status


def _runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=MODES, default="full", help="runtime mode")
    parser.add_argument("--version", default="latest", help="runtime version")
    parser.add_argument("--bridge-port", type=int, help="bridge port (default: auto)")
    parser.add_argument("--dashboard-port", type=int, default=3030, help="dashboard port")
    parser.add_argument("--use-debug", action="store_true", help="debug builds first")
    parser.add_argument("--force-download", action="store_true", help="skip builds and cache")


def _run(args: argparse.Namespace) -> int:
    if args.script and Path(args.script).is_file():
        print(f"[loom] Running script: {args.script}", flush=True)
        os.execv(sys.executable, [sys.executable, args.script])
    project = Path(args.script) if args.script else Path.cwd()
    if not project.exists():
        print(f"[loom] Project directory not found: {project}", file=sys.stderr)
        return 1
    agents = project / "agents"
    scripts = sorted(agents.glob("*.py")) if agents.is_dir() else []
    scripts += [p for p in (project / e for e in _ENTRY_POINTS) if p.exists()][:1]
    if not scripts:
        print("[loom] No agent scripts found (agents/*.py, main.py, run.py, app.py)")
    config = OrchestratorConfig(
        project_dir=project,
        logs_dir=project / "logs" if args.logs else None,
        runtime_mode=args.mode,
        runtime_version=args.version,
        bridge_port=args.bridge_port,
        dashboard_port=args.dashboard_port,
        startup_wait_sec=args.startup_wait,
        agent_scripts=scripts,
        prefer_release=_prefer_release(args),
        force_download=args.force_download,
    )
    asyncio.run(run_orchestrator(config))
    return 0


def _up(args: argparse.Namespace) -> int:
    address = f"127.0.0.1:{args.bridge_port or _free_port()}"
    options = {
        "version": args.version,
        "prefer_release": _prefer_release(args),
        "force_download": args.force_download,
    }
    if args.mode == "bridge-only":
        proc = start_bridge(address, **options)
        print(f"[loom] Bridge server started PID={proc.pid} at {address}")
    else:
        proc = start_core(address, args.dashboard_port or 3030, **options)
        print(f"[loom] Loom Core started PID={proc.pid}")
        print(f"[loom] Dashboard: http://localhost:{args.dashboard_port or 3030}")
    print(f"[loom] Agents connect via LOOM_BRIDGE_ADDR={address}")
    os.environ["LOOM_BRIDGE_ADDR"] = address
    write_bridge(Path(LOOM_TOML), address, args.mode, args.version)
    print("[loom] Press Ctrl+C to stop.", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 0


def _down(args: argparse.Namespace) -> int:
    cache = cache_dir().resolve()
    mine = os.getuid()
    stopped = 0
    for proc in psutil.process_iter(["cmdline", "uids"]):
        try:
            if proc.pid == os.getpid() or proc.info["uids"].real != mine:
                continue
            if not any(_cached_runtime(arg, cache) for arg in (proc.info["cmdline"] or [])[:2]):
                continue
            print(f"[loom] Killing Loom server (PID {proc.pid})")
            proc.terminate()
            stopped += 1
            try:
                proc.wait(timeout=3)
            except psutil.TimeoutExpired:
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    if stopped:
        print(f"[loom] Shutdown complete ({stopped} processes killed)")
    else:
        print("[loom] No Loom processes found")
    return 0


def write_bridge(path: Path, address: str, mode: str, version: str) -> bool:
    """Set ``[bridge]``'s address, mode and version in the TOML file at ``path`` (made if
    missing), every other line kept; False (and the file untouched) where that cannot be
    done safely: the file is no TOML, or its bridge is not a ``[bridge]`` table."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        _log.warning("%s: not TOML (%s): not updated", path, exc)
        return False
    values = {"address": address, "mode": mode, "version": version}
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if header is None and "bridge" in before:
        return False  # an inline table or dotted keys: not ours to rewrite
    if header is None:
        lines += ["", "[bridge]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    else:
        end = next((i for i in range(header + 1, len(lines)) if _TABLE.match(lines[i])), len(lines))
        for key, value in values.items():
            line = f"{key} = {json.dumps(value)}"
            pattern = re.compile(rf"^\s*{key}\s*=")
            at = next((i for i in range(header + 1, end) if pattern.match(lines[i])), None)
            if at is None:
                lines.insert(header + 1, line)
                end += 1
            else:
                lines[at] = line
    updated = "\n".join(lines).lstrip("\n") + "\n"
    try:
        if tomllib.loads(updated).get("bridge") != {**before.get("bridge", {}), **values}:
            return False
    except tomllib.TOMLDecodeError:
        return False  # a key of ours held a multi-line value
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(updated, encoding="utf-8")
    os.replace(temp, path)
    return True


def _cached_runtime(arg: str, cache: Path) -> bool:
    path = Path(arg)
    if path.name not in _RUNTIME_NAMES or not path.is_absolute():
        return False
    return path.resolve().is_relative_to(cache)


def _prefer_release(args: argparse.Namespace) -> bool | None:
    """``--use-debug``: debug builds first; else as ``LOOM_PREFER_DEBUG`` says (release)."""
    return False if args.use_debug else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops `up` as Ctrl+C does: the runtime with it
