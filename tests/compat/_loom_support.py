"""Stand-ins for Loom's binaries and agents, for tests/compat/test_loom.py.

The runtime is a small Python script named ``loom-bridge-server``: ``--version`` prints
``loom-bridge-server VERSION``; otherwise it records its environment (the LOOM_ and OTEL_
variables), argv and cwd as ``runtime-PID.json`` in ``$TEST_MARKERS`` and sleeps.
An agent does the same as ``NAME-PID.json``, after a line on stdout and one on stderr.
Release archives are real gzipped tars of the runtime script, served by a real HTTP
server on 127.0.0.1 (tests/artifacts/_server.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import psutil
import pytest

from tests.artifacts._server import Served, Server, serving
from treadle.compat import _loom_binaries
from treadle.compat.loom import platform_tag

RUNTIME: Final = "loom-bridge-server"
_ENV: Final = (
    "LOOM_BRIDGE_ADDR",
    "LOOM_PREFER_DEBUG",
    "TREADLE_PREFER_DEBUG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_TRACE_SAMPLER",
    "OTEL_SERVICE_NAME",
    "FROM_DOTENV",
    "FROM_ENV",
    "DEEPSEEK_API_KEY",
    "BRAVE_API_KEY",
    "XDG_CACHE_HOME",
)

# The seed's loom.toml, verbatim.
SEED_LOOM_TOML: Final = """
# loom.toml

[bridge]
address = "localhost:50051"

[dashboard]
enabled = true
port = 3030

[llm.deepseek]
base_url = "https://api.deepseek.com/v1"
model = "deepseek-chat"
api_key = "${DEEPSEEK_API_KEY}"

[mcp.brave]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-brave-search"]
env = { BRAVE_API_KEY = "${BRAVE_API_KEY}" }
"""

RECORD = """
import json, os, pathlib, sys
def record(name):
    env = {k: v for k, v in os.environ.items() if k.startswith(("LOOM_", "OTEL_", "FROM_"))}
    out = pathlib.Path(os.environ["TEST_MARKERS"]) / f"{name}-{os.getpid()}.json"
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"env": env, "argv": sys.argv, "cwd": os.getcwd()}))
    tmp.rename(out)
"""


def runtime(version: str = "0.1.0") -> bytes:
    """The ``loom-bridge-server`` stand-in (an executable script)."""
    return f"""#!{sys.executable}
import sys, time
if sys.argv[1:] == ["--version"]:
    print("loom-bridge-server {version}")
    sys.exit(0)
{RECORD}
print("runtime up", flush=True)
record("runtime")
time.sleep(120)
""".encode()


AGENT = f"""
import pathlib, sys, time
{RECORD}
name = pathlib.Path(sys.argv[0]).stem
print(f"{{name}} up", flush=True)
print(f"{{name}} says this on stderr", file=sys.stderr, flush=True)
record(name)
time.sleep(120)
"""

FLAKY_AGENT = f"""
import os, pathlib, sys, time
{RECORD}
record("flaky")
runs = len(list(pathlib.Path(os.environ["TEST_MARKERS"]).glob("flaky-*.json")))
print(f"run {{runs}}", flush=True)
if runs == 1:
    sys.exit(3)
time.sleep(120)
"""


def install(path: Path, body: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    path.chmod(0o755)
    return path


def archive(members: dict[str, bytes]) -> bytes:
    """A gzipped tar holding each member (mode 0755) at its top."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def records(markers: Path, name: str) -> list[dict[str, Any]]:
    """What each run of ``name`` recorded, oldest first."""
    found = sorted(markers.glob(f"{name}-*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [{**json.loads(p.read_text()), "pid": int(p.stem.rsplit("-", 1)[1])} for p in found]


def wait_records(markers: Path, name: str, count: int = 1, timeout: float = 30) -> list[Any]:
    """The records of ``name`` once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while len(found := records(markers, name)) < count:
        assert time.monotonic() < deadline, f"{name}: {len(found)} of {count} runs recorded"
        time.sleep(0.02)
    return found


def loom_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory (the cwd) in tmp_path, HOME in tmp_path (so Loom's cache is
    tmp_path/home/.cache/loom/bin), markers in $TEST_MARKERS, and every variable the
    layer reads or sets unset (and unset again after the test)."""
    for name in _ENV:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)  # restored to unset, whatever the test sets
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv("TEST_MARKERS", str(markers))
    root = tmp_path / "app"
    (root / "agents").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


@contextlib.contextmanager
def releases(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A release server: download_from_github's base URL points at it."""
    with serving() as s:
        monkeypatch.setattr(_loom_binaries, "RELEASE_BASE_URL", s.url(""))
        yield s


def release(
    server: Server, version: str, body: bytes, *, name: str = RUNTIME, digest: str | None = "ok"
) -> str:
    """Serve binary ``name`` at ``version`` as Loom names its asset; with its .sha256
    unless ``digest`` is None ("ok": the right one). The asset's URL path."""
    asset = f"/v{version.removeprefix('v')}/{name}-{version}-{platform_tag()}.tar.gz"
    data = archive({name: body})
    server.files[asset] = Served(data)
    if digest is not None:
        text = f"{sha256(data) if digest == 'ok' else digest}  {asset.rsplit('/', 1)[1]}\n"
        server.files[asset + ".sha256"] = Served(text.encode())
    return asset


def markers_dir() -> Path:
    return Path(os.environ["TEST_MARKERS"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def reap(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)


def gone(pids: list[int]) -> bool:
    """None of ``pids`` is left running (a zombie of another parent counts as gone)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return not alive
