"""``[artifacts.NAME]`` and ``[processes.X] artifact = "NAME"`` in treadle.toml: validated
with line numbers, resolved when the tree is built (a download from a real server on
127.0.0.1), run in a real tree; and ``treadle up`` failing early when it cannot be."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli._support import treadle
from tests.project.test_load import error, load, where, write
from treadle import ConfigError, ProcessSpec, State
from treadle.artifacts import ArtifactNotFound, DownloadError, platform_tag
from treadle.project import build_child, build_tree

from ._server import Served, Server, script, serving, sha256

BRIDGE = script("bridge.started", sleep=60)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    with serving() as s:
        s.files["/loom-bridge/v0.1.0"] = Served(BRIDGE)
        yield s


def project(server: Server, digest: str | None = None, extra: str = "") -> str:
    return f"""
    [project]
    name = "loom"

    [artifacts.loom-bridge]
    version = "v0.1.0"
    url = "{server.url("/{name}/{version}")}"
    sha256 = {{ "{platform_tag()}" = "{digest or sha256(BRIDGE)}" }}

    [processes.bridge]
    artifact = "loom-bridge"
    args = ["--port", 50051, "--verbose"]
    stop_timeout = 2
    {extra}
    """


def test_a_process_runs_the_artifact_with_its_args(server: Server, tmp_path: Path) -> None:
    config = load(tmp_path, project(server))
    assert config.file.artifacts["loom-bridge"].version == "v0.1.0"
    spec = build_child(config, "bridge").target
    assert isinstance(spec, ProcessSpec)
    cached = tmp_path / "xdg" / "treadle" / "bin" / f"loom-bridge-v0.1.0-{platform_tag()}"
    assert spec.argv == (str(cached), "--port", "50051", "--verbose")
    assert spec.args is None
    assert server.count("/loom-bridge/v0.1.0") == 1


async def test_a_built_tree_runs_the_downloaded_artifact(server: Server, tmp_path: Path) -> None:
    tree = build_tree(load(tmp_path, project(server)))
    marker = tmp_path / "bridge.started"
    async with tree:
        for _ in range(1500):  # a file the script writes: no event to await, poll it
            if marker.exists():
                break
            await asyncio.sleep(0.02)
        assert marker.read_text() == "--port 50051 --verbose\n"
        assert tree.child_state("bridge") is State.RUNNING
    assert tree.child_state("bridge") is State.STOPPED


def test_a_local_build_is_taken_before_a_download(server: Server, tmp_path: Path) -> None:
    local = tmp_path / "target" / "release" / "loom-bridge"
    local.parent.mkdir(parents=True)
    local.write_bytes(BRIDGE)
    local.chmod(0o755)
    spec = build_child(load(tmp_path, project(server)), "bridge").target
    assert isinstance(spec, ProcessSpec)
    assert spec.argv[0] == str(local)
    assert server.count("/loom-bridge/v0.1.0") == 0


def test_an_artifact_that_cannot_be_resolved_fails_the_build_at_its_key(
    server: Server, tmp_path: Path
) -> None:
    config = load(tmp_path, project(server, digest="0" * 64))
    with pytest.raises(ConfigError) as caught:
        build_tree(config)
    assert where(caught.value) == ("treadle.toml", 10, 1, "processes.bridge.artifact")
    assert "expected " + "0" * 64 in caught.value.message
    server.files["/loom-bridge/v0.1.0"] = Served(status=404)
    with pytest.raises(ConfigError) as caught:
        build_tree(load(tmp_path, project(server)))
    assert isinstance(caught.value.__cause__, DownloadError)
    assert "answered HTTP 404" in str(caught.value)


def test_treadle_up_fails_before_anything_runs(server: Server, tmp_path: Path) -> None:
    write(tmp_path, project(server))
    server.files["/loom-bridge/v0.1.0"] = Served(BRIDGE, truncate_at=10)
    done = treadle("up", cwd=str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path / 'treadle.toml'}:10:1: processes.bridge.artifact:" in done.stderr
    assert f"closed after 10 of {len(BRIDGE)} bytes" in done.stderr
    assert not (
        tmp_path / "xdg" / "treadle" / "bin" / f"loom-bridge-v0.1.0-{platform_tag()}"
    ).exists()
    assert not (tmp_path / "bridge.started").exists()


def test_no_url_and_no_build_names_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    config = load(
        tmp_path,
        """
        [artifacts.tool]
        version = "1.0"
        build_dirs = ["bin"]

        [processes.tool]
        artifact = "tool"
        """,
    )
    with pytest.raises(ConfigError) as caught:
        build_tree(config)
    assert isinstance(caught.value.__cause__, ArtifactNotFound)
    assert str(tmp_path / "bin") in str(caught.value)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_bytes(b"#!/bin/sh\n")
    os.chmod(tmp_path / "bin" / "tool", 0o755)
    spec = build_child(config, "tool").target
    assert isinstance(spec, ProcessSpec)
    assert spec.argv == (str(tmp_path / "bin" / "tool"),)


# -- validation, placed in the file ----------------------------------------------------------

ARTIFACT = """
[artifacts.loom-bridge]
version = "v0.1.0"
"""


@pytest.mark.parametrize(
    ("text", "at", "message", "suggestion"),
    [
        pytest.param(
            ARTIFACT + '[processes.bridge]\nartifact = "loom-brigde"\n',
            (4, 1, "processes.bridge.artifact"),
            "unknown artifact 'loom-brigde' (declared in [artifacts.NAME]: loom-bridge)",
            "loom-bridge",
            id="unknown-artifact",
        ),
        pytest.param(
            ARTIFACT + '[processes.bridge]\nartifact = "loom-bridge"\ncommand = "x"\n',
            (5, 1, "processes.bridge.command"),
            "give artifact or command, not both",
            None,
            id="artifact-and-command",
        ),
        pytest.param(
            ARTIFACT + '[processes.bridge]\nartifact = "loom-bridge"\nfunction = "m:f"\n',
            (5, 1, "processes.bridge.function"),
            "give artifact or function, not both",
            None,
            id="artifact-and-function",
        ),
        pytest.param(
            ARTIFACT
            + '[processes.bridge]\nartifact = "loom-bridge"\nsha256 = "'
            + "a" * 64
            + '"\n',
            (5, 1, "processes.bridge.sha256"),
            "an artifact's digests are in its table: [artifacts.loom-bridge] sha256 = "
            "{ PLATFORM = DIGEST }",
            None,
            id="sha256-on-the-process",
        ),
        pytest.param(
            ARTIFACT + '[processes.bridge]\nartifact = "loom-bridge"\nargs = { port = 1 }\n',
            (5, 1, "processes.bridge.args"),
            "an artifact's args are a list of arguments",
            None,
            id="args-as-a-table",
        ),
        pytest.param(
            ARTIFACT + '[processes.bridge]\nartifact = "loom-bridge"\nargs = ["-v", true]\n',
            (5, 15, "processes.bridge.args[1]"),
            "an argument is a string or a number, got true",
            None,
            id="args-with-a-boolean",
        ),
        pytest.param(
            '[artifacts.x]\nversion = "1"\nurl = "https://h/{name}/{verison}"\n',
            (3, 1, "artifacts.x.url"),
            "unknown placeholder {verison} (known: {name}, {version}, {platform}, {os}, {arch})",
            None,
            id="bad-placeholder",
        ),
        pytest.param(
            '[artifacts.x]\nversion = "1"\nsha256 = { linux = "' + "a" * 64 + '" }\n',
            (3, 12, "artifacts.x.sha256.linux"),
            f"'linux' is not a platform: write 'os-arch', as {platform_tag()!r}",
            None,
            id="bad-platform",
        ),
        pytest.param(
            '[artifacts.x]\nversion = "1/2"\n',
            (2, 1, "artifacts.x.version"),
            "'1/2' cannot be part of a file name: use letters, digits and '_', '.', '+', '-' "
            "(not first)",
            None,
            id="bad-version",
        ),
        pytest.param(
            '[artifacts."../x"]\nversion = "1"\n',
            (1, 1, 'artifacts."../x"'),
            "'../x' cannot be part of a file name",
            None,
            id="bad-name",
        ),
        pytest.param(
            '[artifacts.x]\nurl = "https://h/x"\n',
            (1, 1, "artifacts.x.version"),
            "required, but missing",
            None,
            id="no-version",
        ),
        pytest.param(
            '[artifacts.x]\nversion = "1"\nbuild_dir = ["out"]\n',
            (3, 1, "artifacts.x.build_dir"),
            "unknown key",
            "build_dirs",
            id="typo-in-a-key",
        ),
    ],
)
def test_errors_point_at_the_key(
    tmp_path: Path, text: str, at: tuple[int, int, str], message: str, suggestion: str | None
) -> None:
    exc = error(tmp_path, text)
    assert where(exc) == ("treadle.toml", *at)
    assert exc.message.startswith(message)
    assert exc.suggestion == suggestion


def test_treadle_check_lists_an_artifact_process(server: Server, tmp_path: Path) -> None:
    write(tmp_path, project(server))
    done = treadle("check", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "bridge" in done.stdout


def test_treadle_up_force_download_fetches_again(server: Server, tmp_path: Path) -> None:
    write(tmp_path, project(server))
    try:
        assert treadle("up", "-d", cwd=str(tmp_path)).returncode == 0
        assert server.count("/loom-bridge/v0.1.0") == 1
        assert treadle("down", cwd=str(tmp_path)).returncode == 0
        assert treadle("up", "-d", cwd=str(tmp_path)).returncode == 0
        assert server.count("/loom-bridge/v0.1.0") == 1  # from the cache
        assert treadle("down", cwd=str(tmp_path)).returncode == 0
        done = treadle("up", "-d", "--force-download", cwd=str(tmp_path))
        assert done.returncode == 0, done.stderr
        assert server.count("/loom-bridge/v0.1.0") == 2  # once more, then the tree's cache hit
    finally:
        treadle("down", cwd=str(tmp_path))
    server.files["/loom-bridge/v0.1.0"] = Served(status=404)
    done = treadle("up", "--force-download", cwd=str(tmp_path))
    assert done.returncode != 0
    assert "answered HTTP 404" in done.stderr
