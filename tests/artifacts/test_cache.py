"""The cache as a user sees it: ``treadle cache list|verify|clear`` run as real processes,
the same views through the API, and checksums.txt read by ``sha256sum -c``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli._support import treadle
from treadle.artifacts import (
    Artifact,
    EntryState,
    clear_cache,
    list_cache,
    platform_tag,
    resolve,
    verify_cache,
)

from ._server import Served, Server, script, serving, sha256

BRIDGE = script("bridge")
CORE = script("core")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache holding loom-bridge v1 and v2 and loom-core v1, downloaded for real."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with serving() as server:
        for name, version, body in (
            ("loom-bridge", "v1", BRIDGE),
            ("loom-bridge", "v2", BRIDGE + b"#2\n"),
            ("loom-core", "v1", CORE),
        ):
            resolve(_artifact(server, name, version, body), root=tmp_path)
    return tmp_path / "xdg" / "treadle" / "bin"


def _artifact(server: Server, name: str, version: str, body: bytes) -> Artifact:
    server.files[f"/{name}/{version}"] = Served(body)
    url = server.url("/{name}/{version}")
    return Artifact(name, version, url=url, sha256={platform_tag(): sha256(body)})


def file(name: str, version: str) -> str:
    return f"{name}-{version}-{platform_tag()}"


def test_list_shows_every_artifact(cache: Path) -> None:
    entries = list_cache(cache)
    assert [(e.name, e.version, e.platform) for e in entries] == [
        ("loom-bridge", "v1", platform_tag()),
        ("loom-bridge", "v2", platform_tag()),
        ("loom-core", "v1", platform_tag()),
    ]
    assert entries[0].sha256 == sha256(BRIDGE)
    assert entries[0].size == len(BRIDGE)

    done = treadle("cache", "list")
    assert done.returncode == 0, done.stderr
    assert str(cache) in done.stdout
    assert file("loom-core", "v1") in done.stdout
    assert sha256(CORE)[:16] in done.stdout

    done = treadle("cache", "list", "--json")
    data = json.loads(done.stdout)
    assert data["directory"] == str(cache)
    assert [a["file"] for a in data["artifacts"]] == [
        file("loom-bridge", "v1"),
        file("loom-bridge", "v2"),
        file("loom-core", "v1"),
    ]
    assert data["artifacts"][2]["sha256"] == sha256(CORE)


def test_verify_passes_then_finds_what_changed(cache: Path) -> None:
    done = treadle("cache", "verify")
    assert done.returncode == 0, done.stderr
    assert "ok: 3 verified" in done.stderr

    (cache / file("loom-core", "v1")).write_bytes(b"#!/bin/sh\necho tampered\n")
    (cache / file("loom-bridge", "v2")).unlink()
    (cache / "stray").write_bytes(b"who put this here")
    states = {v.entry.path.name: v.state for v in verify_cache(cache)}
    assert states == {
        file("loom-bridge", "v1"): EntryState.OK,
        file("loom-bridge", "v2"): EntryState.MISSING,
        file("loom-core", "v1"): EntryState.MODIFIED,
        "stray": EntryState.UNRECORDED,
    }

    done = treadle("cache", "verify", "--json")
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["ok"] is False
    core = next(a for a in data["artifacts"] if a["name"] == "loom-core")
    assert core["state"] == "modified"
    assert core["sha256"] == sha256(CORE)
    assert core["actual"] == sha256(b"#!/bin/sh\necho tampered\n")

    done = treadle("cache", "verify")
    assert done.returncode == 1
    assert "3 of 4 not ok" in done.stderr


def test_clear_one_artifact_then_everything(cache: Path) -> None:
    done = treadle("cache", "clear", "loom-bridge")
    assert done.returncode == 0, done.stderr
    assert f"removed {cache / file('loom-bridge', 'v1')}" in done.stdout
    assert "2 files of loom-bridge removed" in done.stderr
    assert [e.name for e in list_cache(cache)] == ["loom-core"]
    assert [v.state for v in verify_cache(cache)] == [EntryState.OK]

    done = treadle("cache", "clear")
    assert done.returncode == 0, done.stderr
    assert list_cache(cache) == []
    assert sorted(p.name for p in cache.iterdir()) == [".locks", "checksums.txt"]
    assert clear_cache(directory=cache) == []


def test_an_empty_cache_lists_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "none"))
    done = treadle("cache", "list", "--json")
    assert json.loads(done.stdout)["artifacts"] == []
    assert treadle("cache", "verify").returncode == 0
    assert "Examples:" in treadle("cache", "clear", "--help").stdout


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="no sha256sum here")
def test_sha256sum_checks_the_cache_too(cache: Path) -> None:
    done = subprocess.run(
        ["sha256sum", "-c", "checksums.txt"], cwd=cache, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{file('loom-core', 'v1')}: OK" in done.stdout
