"""resolve(): local builds, the cache, and downloads from a real HTTP server on 127.0.0.1:
verified, atomic, once across processes, and nothing partial left when it goes wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle import IntegrityError, TreadleError
from treadle.artifacts import (
    Artifact,
    ArtifactError,
    ArtifactNotFound,
    ChecksumMismatch,
    DownloadError,
    EntryState,
    Origin,
    cache_dir,
    platform_tag,
    prefers_debug,
    resolve,
    verify_cache,
)
from treadle.artifacts._download import download

from ._server import Served, Server, script, serving, sha256

GOOD = script("ran", sleep=None)
PATH = "/loom-bridge-v0.1.0"


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as s:
        yield s


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_CACHE_HOME in tmp_path: the cache directory the resolver uses."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name in ("TREADLE_PREFER_DEBUG", "LOOM_PREFER_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "xdg" / "treadle" / "bin"


def artifact(server: Server, body: bytes = GOOD, digest: str | None = None) -> Artifact:
    """loom-bridge v0.1.0, served at PATH with ``body`` and declared as ``digest``."""
    server.files[PATH] = Served(body)
    return Artifact(
        "loom-bridge",
        "v0.1.0",
        url=server.url("/{name}-{version}"),
        sha256={platform_tag(): digest or sha256(body)},
    )


def contents(directory: Path) -> list[str]:
    """What the cache holds (its lock directory aside)."""
    return sorted(p.name for p in directory.iterdir() if p.name != ".locks")


def build(root: Path, directory: str, body: bytes = GOOD) -> Path:
    path = root / directory / "loom-bridge"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    path.chmod(0o755)
    return path


# -- downloads --------------------------------------------------------------------------------


def test_a_download_is_verified_cached_executable_and_runs(
    server: Server, cache: Path, tmp_path: Path
) -> None:
    a = artifact(server)
    found = resolve(a, root=tmp_path)
    assert found.origin is Origin.DOWNLOAD
    assert found.path == cache / f"loom-bridge-v0.1.0-{platform_tag()}"
    assert found.sha256 == sha256(GOOD)
    assert os.access(found.path, os.X_OK)
    subprocess.run([found.path, "--port", "50051"], cwd=tmp_path, check=True, timeout=30)
    assert (tmp_path / "ran").read_text() == "--port 50051\n"
    assert contents(cache) == ["checksums.txt", found.path.name]

    again = resolve(a, root=tmp_path)
    assert (again.origin, again.path) == (Origin.CACHE, found.path)
    assert server.count(PATH) == 1


def test_a_corrupted_download_names_both_digests_and_leaves_nothing(
    server: Server, cache: Path
) -> None:
    declared = sha256(b"the real thing")
    a = artifact(server, GOOD, declared)
    with pytest.raises(ChecksumMismatch) as caught:
        resolve(a)
    message = str(caught.value)
    assert declared in message
    assert sha256(GOOD) in message
    assert f"loom-bridge v0.1.0 ({platform_tag()})" in message
    assert (caught.value.expected, caught.value.actual) == (declared, sha256(GOOD))
    assert isinstance(caught.value, IntegrityError)
    assert isinstance(caught.value, TreadleError)
    assert contents(cache) == []


def test_a_download_without_a_digest_keeps_what_came_and_still_no_partial_file(
    server: Server, tmp_path: Path
) -> None:
    """download(expected=None), for a layer whose source publishes no digest (Loom's
    optional .sha256): the body is kept, executable; a short transfer still leaves nothing."""
    server.files[PATH] = Served(GOOD)
    target = tmp_path / "loom-bridge"
    download(server.url(PATH), target, None, what="loom-bridge", timeout=30)
    assert target.read_bytes() == GOOD
    assert os.access(target, os.X_OK)
    server.files[PATH] = Served(GOOD + b"#" * 10_000, truncate_at=100)
    with pytest.raises(DownloadError, match="closed after 100 of"):
        download(server.url(PATH), tmp_path / "cut", None, what="loom-bridge", timeout=30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loom-bridge"]


def test_a_transfer_cut_short_is_an_error_and_leaves_no_partial_file(
    server: Server, cache: Path
) -> None:
    body = GOOD + b"#" * 100_000
    a = artifact(server, body)
    server.files[PATH] = Served(body, truncate_at=1000)
    with pytest.raises(DownloadError, match=f"closed after 1000 of {len(body)} bytes"):
        resolve(a)
    assert contents(cache) == []
    server.files[PATH] = Served(body)  # the server is back: the next resolve works
    assert resolve(a).origin is Origin.DOWNLOAD


def test_an_http_error_and_a_dead_server_are_download_errors(server: Server, cache: Path) -> None:
    a = artifact(server)
    server.files[PATH] = Served(status=503)
    with pytest.raises(DownloadError, match="answered HTTP 503"):
        resolve(a)
    dead = Artifact("x", "1", url="http://127.0.0.1:9/x", sha256={platform_tag(): "0" * 64})
    with pytest.raises(DownloadError, match=r"cannot download http://127\.0\.0\.1:9/x"):
        resolve(dead)
    assert contents(cache) == []


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(
    server: Server, cache: Path
) -> None:
    server.files[PATH] = Served(GOOD, auth="ci:s3cr@t")
    url = f"http://ci:s3cr%40t@127.0.0.1:{server.port}" + "/{name}-{version}"
    a = Artifact("loom-bridge", "v0.1.0", url=url, sha256={platform_tag(): sha256(GOOD)})
    assert "s3cr" not in repr(a)
    assert resolve(a).origin is Origin.DOWNLOAD
    wrong = Artifact("loom-bridge", "v0.1.0", url=url.replace("s3cr", "nope"), sha256=a.sha256)
    with pytest.raises(DownloadError) as caught:
        resolve(wrong, force_download=True)
    message = str(caught.value)
    assert "answered HTTP 401" in message
    assert f"http://ci:***@127.0.0.1:{server.port}/loom-bridge-v0.1.0" in message
    assert "nope" not in message


def test_without_a_digest_for_this_platform_nothing_is_downloaded(
    server: Server, cache: Path
) -> None:
    a = Artifact("loom-bridge", "v0.1.0", url=server.url(PATH), sha256={"plan9-mips": "0" * 64})
    with pytest.raises(ArtifactError, match=f"no sha256 declared for {platform_tag()}"):
        resolve(a)
    assert server.count(PATH) == 0


def test_not_built_not_cached_and_no_url_says_where_it_looked(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFound) as caught:
        resolve(Artifact("loom-core", "v1"), root=tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "target" / "release") in message
    assert str(tmp_path / "target" / "debug") in message
    assert str(cache / f"loom-core-v1-{platform_tag()}") in message
    assert "no url" in message
    assert isinstance(caught.value, LookupError)


def test_force_download_bypasses_the_cache_and_local_builds(
    server: Server, cache: Path, tmp_path: Path
) -> None:
    a = artifact(server)
    resolve(a, root=tmp_path)
    build(tmp_path, "target/release")
    found = resolve(a, root=tmp_path, force_download=True)
    assert found.origin is Origin.DOWNLOAD
    assert found.path.parent == cache
    assert server.count(PATH) == 2
    assert resolve(a, root=tmp_path).origin is Origin.BUILD


# -- local builds -----------------------------------------------------------------------------


def test_a_local_build_wins_over_the_cache(server: Server, cache: Path, tmp_path: Path) -> None:
    a = artifact(server)
    resolve(a, root=tmp_path)
    debug = build(tmp_path, "target/debug", b"#!/bin/sh\n")
    assert resolve(a, root=tmp_path).path == debug
    release = build(tmp_path, "target/release", b"#!/bin/sh\n")
    found = resolve(a, root=tmp_path)
    assert (found.origin, found.path, found.sha256) == (Origin.BUILD, release, None)
    assert server.count(PATH) == 1


def test_a_file_that_is_not_executable_is_no_build(cache: Path, tmp_path: Path) -> None:
    build(tmp_path, "target/release").chmod(0o644)
    with pytest.raises(ArtifactNotFound):
        resolve(Artifact("loom-bridge", "v0.1.0"), root=tmp_path)


@pytest.mark.parametrize("variable", ["TREADLE_PREFER_DEBUG", "LOOM_PREFER_DEBUG"])
def test_prefer_debug_puts_debug_builds_first(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    a = Artifact("loom-bridge", "v0.1.0")
    release = build(tmp_path, "target/release")
    debug = build(tmp_path, "target/debug")
    assert resolve(a, root=tmp_path).path == release
    monkeypatch.setenv(variable, "1")
    assert prefers_debug()
    assert resolve(a, root=tmp_path).path == debug
    assert resolve(a, root=tmp_path, prefer_debug=False).path == release
    monkeypatch.setenv(variable, "0")
    assert resolve(a, root=tmp_path).path == release
    assert resolve(a, root=tmp_path, prefer_debug=True).path == debug


def test_build_directories_are_configurable(cache: Path, tmp_path: Path) -> None:
    a = Artifact("bridge", "1", build_dirs=("out", "dist/debug"), executable="loom-bridge")
    assert a.file_name == "loom-bridge"
    dist = build(tmp_path, "dist/debug")
    assert resolve(a, root=tmp_path).path == dist
    out = build(tmp_path, "out")
    assert resolve(a, root=tmp_path).path == out
    assert resolve(a, root=tmp_path, prefer_debug=True).path == dist


# -- the cache's fast path, and when it is not taken ----------------------------------------


def test_a_touched_cached_file_is_hashed_again_not_downloaded(server: Server, cache: Path) -> None:
    a = artifact(server)
    path = resolve(a).path
    os.utime(path, (1, 1))
    assert resolve(a).origin is Origin.CACHE
    assert server.count(PATH) == 1


def test_a_modified_cached_file_is_downloaded_again(server: Server, cache: Path) -> None:
    a = artifact(server)
    path = resolve(a).path
    path.write_bytes(b"#!/bin/sh\necho tampered\n")
    found = resolve(a)
    assert found.origin is Origin.DOWNLOAD
    assert path.read_bytes() == GOOD
    assert server.count(PATH) == 2


def test_the_fast_path_trusts_size_and_mtime_and_verify_does_not(
    server: Server, cache: Path
) -> None:
    """The choice documented in _cache: no hashing on a resolve. A change that keeps the
    size and puts the mtime back is seen by ``treadle cache verify``, not by a resolve."""
    a = artifact(server)
    path = resolve(a).path
    before = path.stat()
    path.write_bytes(GOOD.replace(b"ran", b"RAN"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert resolve(a).origin is Origin.CACHE
    [checked] = verify_cache(cache)
    assert checked.state is EntryState.MODIFIED


def test_a_new_declared_digest_replaces_the_cached_file(server: Server, cache: Path) -> None:
    resolve(artifact(server, GOOD))
    newer = GOOD + b"# v0.1.0, republished\n"
    assert resolve(artifact(server, newer)).origin is Origin.DOWNLOAD
    assert (cache / f"loom-bridge-v0.1.0-{platform_tag()}").read_bytes() == newer


def test_what_a_killed_download_left_is_removed(server: Server, cache: Path) -> None:
    cache.mkdir(parents=True)
    name = f"loom-bridge-v0.1.0-{platform_tag()}"
    (cache / f".{name}.x1y2.part").write_bytes(b"half")
    resolve(artifact(server))
    assert contents(cache) == ["checksums.txt", name]


def test_the_cache_directory_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert cache_dir() == Path("/somewhere/cache/treadle/bin")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", "/home/u")
    assert cache_dir() == Path("/home/u/.cache/treadle/bin")
    assert cache_dir({"HOME": "/h"}) == Path("/h/.cache/treadle/bin")


# -- several processes at once ----------------------------------------------------------------

RESOLVER = textwrap.dedent(
    """
    import json, sys
    from treadle.artifacts import Artifact, resolve
    a = Artifact("loom-bridge", "v0.1.0", url=sys.argv[1], sha256={sys.argv[2]: sys.argv[3]})
    found = resolve(a, root=sys.argv[4])
    print(json.dumps({"path": str(found.path), "origin": found.origin.value}))
    """
)


def test_four_processes_resolving_at_once_download_once(
    server: Server, cache: Path, tmp_path: Path
) -> None:
    body = GOOD + b"#" * 500_000
    server.files[PATH] = Served(body, delay=1.0)  # all four ask while the first downloads
    argv = [server.url(PATH), platform_tag(), sha256(body), str(tmp_path)]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RESOLVER, *argv], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(4)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=50)
        assert proc.returncode == 0
        results.append(json.loads(out))
    assert server.count(PATH) == 1
    assert len({r["path"] for r in results}) == 1
    assert sorted(r["origin"] for r in results) == ["cache", "cache", "cache", "download"]
    assert Path(results[0]["path"]).read_bytes() == body
    assert contents(cache) == ["checksums.txt", Path(results[0]["path"]).name]


# -- secrets ----------------------------------------------------------------------------------


def test_a_token_as_the_user_and_query_tokens_are_never_shown(server: Server, cache: Path) -> None:
    query = "?token=QTOK&access_token=ATOK&sig=SIG&X-Amz-Signature=AMZ&v=1"
    server.files[PATH + query] = Served(status=503)
    url = f"http://USERTOKEN@127.0.0.1:{server.port}" + "/{name}-{version}" + query
    a = Artifact("loom-bridge", "v0.1.0", url=url, sha256={platform_tag(): sha256(GOOD)})
    with pytest.raises(DownloadError) as caught:
        resolve(a)
    message = str(caught.value)
    assert "answered HTTP 503" in message
    for secret in ("USERTOKEN", "QTOK", "ATOK", "SIG", "AMZ"):
        assert secret not in message
    assert f"http://***@127.0.0.1:{server.port}/loom-bridge-v0.1.0?token=***" in message
    assert "&v=1" in message
    dead = Artifact("x", "1", url="http://127.0.0.1:9/x?token=DEAD", sha256=a.sha256)
    with pytest.raises(DownloadError) as caught:
        resolve(dead)
    assert "DEAD" not in str(caught.value)


def test_basic_credentials_follow_a_redirect_only_within_the_origin(
    server: Server, cache: Path
) -> None:
    with serving() as other:
        other.files[PATH] = Served(GOOD)
        server.files["/moved"] = Served(GOOD, auth="ci:pw")
        server.files[PATH] = Served(redirect="/moved")  # the same origin: keeps them
        url = f"http://ci:pw@127.0.0.1:{server.port}" + "/{name}-{version}"
        a = Artifact("loom-bridge", "v0.1.0", url=url, sha256={platform_tag(): sha256(GOOD)})
        assert resolve(a).origin is Origin.DOWNLOAD
        assert server.count("/moved") == 1
        assert (server.auths[-1] or "").startswith("Basic ")
        server.files[PATH] = Served(redirect=other.url(PATH))  # another port: drops them
        assert resolve(a, force_download=True).origin is Origin.DOWNLOAD
        assert other.count(PATH) == 1
        assert other.auths == [None]
