"""treadle.compat.loom against ``loom.runtime``'s configuration and binaries (loom-os/loom,
loom-py/src/loom/runtime/config.py and embedded.py): each test pins one public behaviour,
its expected values read from that code (named in the docstring), plus the seed's own
examples with only their imports changed. The processes, orchestrator and commands are
tests/compat/test_loom_runtime.py's.

Everything is real: binaries are small scripts in a temporary cache, or release archives
served by an HTTP server on 127.0.0.1; loom.toml and .env files are written and read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.artifacts._server import Served, Server
from treadle import ConfigError
from treadle.compat import _loom_binaries
from treadle.compat.loom import (
    BinaryNotInArchive,
    BridgeConfig,
    DashboardConfig,
    LLMProviderConfig,
    LoomConfigError,
    MCPServerConfig,
    ProjectConfig,
    ReleaseDownloadError,
    binary_path,
    cache_dir,
    find_local_build,
    get_binary,
    get_binary_version,
    load_project_config,
    platform_tag,
    validate_cached_binary,
    verify_checksum,
)
from treadle.compat.loom import __all__ as loom_all

from ._loom_support import (
    RUNTIME,
    SEED_LOOM_TOML,
    archive,
    install,
    release,
    runtime,
    sha256,
)


def test_the_names_loom_runtime_exports() -> None:
    """loom/runtime/__init__.py's __all__, plus embedded's find_local_build and
    verify_checksum (code imports them from loom.runtime.embedded)."""
    assert set(loom_all) >= {
        "ProjectConfig",
        "BridgeConfig",
        "LLMProviderConfig",
        "MCPServerConfig",
        "DashboardConfig",
        "load_project_config",
        "start_bridge",
        "start_core",
        "get_binary",
        "binary_path",
        "cache_dir",
        "platform_tag",
        "Orchestrator",
        "OrchestratorConfig",
        "ProcessInfo",
        "run_orchestrator",
        "find_local_build",
        "verify_checksum",
    }


# -- config.py ------------------------------------------------------------------------------


def test_the_config_types_have_looms_defaults_and_can_be_changed() -> None:
    """config.py's dataclasses: BridgeConfig 127.0.0.1:50051/full/latest/30, DashboardConfig
    enabled on 127.0.0.1:3030, ProjectConfig 0.1.0 with empty tables; all mutable."""
    assert BridgeConfig() == BridgeConfig("127.0.0.1:50051", "full", "latest", 30)
    assert DashboardConfig() == DashboardConfig(enabled=True, port=3030, host="127.0.0.1")
    config = ProjectConfig()
    assert (config.name, config.version, config.description) == (None, "0.1.0", None)
    assert (config.agents, config.llm_providers, config.mcp_servers) == ({}, {}, {})
    assert config.bridge.address == "127.0.0.1:50051"
    llm = LLMProviderConfig(name="deepseek", type="http")
    assert (llm.api_key, llm.api_base, llm.model) == (None, None, None)
    assert (llm.max_tokens, llm.temperature, llm.timeout_sec, llm.extra) == (2048, 0.7, 30, {})
    mcp = MCPServerConfig(name="web", command="mcp-web")
    assert (mcp.args, mcp.env) == ([], {})
    config.bridge.address = "127.0.0.1:9999"
    config.llm_providers["x"] = llm
    assert config.llm["x"] is llm  # the seed's name for llm_providers


LOOM_TOML = """
name = "research"
version = "1.2.0"
description = "a test project"
topics = ["topic.hello"]  # `loom init` writes this: not Loom's config, ignored

[bridge]
address = "127.0.0.1:7000"
mode = "bridge-only"
version = "0.2.0"
timeout_sec = 10

[dashboard]
enabled = false
port = 8080
host = "0.0.0.0"

[llm]
default = "deepseek"  # not a table: skipped, as Loom skips it

[llm.deepseek]
type = "http"
api_key = "${DEEPSEEK_API_KEY}"
api_base = "https://api.deepseek.com"
model = "deepseek-chat"
max_tokens = 4096
temperature = 0.8
timeout_sec = 60
extra = { top_p = 0.9 }
provider_hint = "ignored"

[llm.local]
api_base = "http://localhost:8000"

[mcp.file-system]
command = "mcp-server-fs"
args = ["--root", "$HOME"]

[mcp.file-system.env]
LOG_LEVEL = "debug"

[agents.researcher]
role = "analyst"
max_iterations = 10

[agents]
legacy = "{'role': 'writer'}"
number = "42"
broken = "{not python"
"""


def test_load_reads_every_table_of_a_loom_toml(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ProjectConfig.load: top-level name/version/description, [bridge], [dashboard],
    [llm.X] (type defaults to http), [mcp.X] with its env, [agents.X]; a stringified
    agent dict parsed, another literal as {"value": ...}, garbage as {"_raw": ...}."""
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-1")
    path = project / "loom.toml"
    path.write_text(LOOM_TOML)
    config = ProjectConfig.load(path)
    assert (config.name, config.version, config.description) == (
        "research",
        "1.2.0",
        "a test project",
    )
    assert config.bridge == BridgeConfig("127.0.0.1:7000", "bridge-only", "0.2.0", 10)
    assert config.dashboard == DashboardConfig(enabled=False, port=8080, host="0.0.0.0")
    assert list(config.llm_providers) == ["deepseek", "local"]
    assert config.llm_providers["deepseek"] == LLMProviderConfig(
        name="deepseek",
        type="http",
        api_key="sk-1",
        api_base="https://api.deepseek.com",
        model="deepseek-chat",
        max_tokens=4096,
        temperature=0.8,
        timeout_sec=60,
        extra={"top_p": 0.9},
    )
    assert config.llm_providers["local"] == LLMProviderConfig(
        name="local", type="http", api_base="http://localhost:8000"
    )
    assert config.mcp_servers["file-system"] == MCPServerConfig(
        name="file-system",
        command="mcp-server-fs",
        args=["--root", os.environ["HOME"]],
        env={"LOG_LEVEL": "debug"},
    )
    assert config.agents == {
        "researcher": {"role": "analyst", "max_iterations": 10},
        "legacy": {"role": "writer"},
        "number": {"value": 42},
        "broken": {"_raw": "{not python"},
    }
    assert config.file == path
    assert "sk-1" not in repr(config)  # treadle's: keys and MCP env never in a repr


def test_without_a_loom_toml_the_defaults(project: Path) -> None:
    """ProjectConfig.load of a missing file and load_project_config of a directory with
    none above it: ProjectConfig() (Loom raises nothing)."""
    assert ProjectConfig.load(Path("nonexistent.toml")) == ProjectConfig()
    assert load_project_config(project) == ProjectConfig()


def test_loom_toml_is_found_upward(project: Path) -> None:
    """load_project_config(start_dir): the first loom.toml from start_dir up."""
    (project / "loom.toml").write_text('name = "up-here"\n')
    nested = project / "agents" / "deep"
    nested.mkdir()
    assert load_project_config(nested).name == "up-here"
    assert load_project_config().name == "up-here"  # the default start: "."
    assert load_project_config(str(nested)).name == "up-here"  # a str, as Loom's README
    assert ProjectConfig.load().name == "up-here"  # ProjectConfig.load's default: ./loom.toml


def test_variables_expand_and_a_dotenv_beside_it_is_read(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """_expand_env_vars: ${VAR} and $VAR are replaced, an unset one stays as written;
    _load_env_file: the .env beside loom.toml sets what the environment does not."""
    monkeypatch.setenv("FROM_ENV", "real")
    (project / ".env").write_text("FROM_DOTENV='dotenv'\nFROM_ENV=not-this\n# a comment\n")
    (project / "loom.toml").write_text(
        'name = "${FROM_DOTENV}-$FROM_ENV"\ndescription = "${NOT_SET_AT_ALL} $ALSO_UNSET"\n'
    )
    config = load_project_config(project)
    assert config.name == "dotenv-real"
    assert config.description == "${NOT_SET_AT_ALL} $ALSO_UNSET"
    assert os.environ["FROM_DOTENV"] == "dotenv"  # Loom loads it into the environment
    assert os.environ["FROM_ENV"] == "real"


def test_a_dotenv_in_the_working_directory_is_read_when_none_is_beside(
    project: Path, tmp_path: Path
) -> None:
    """ProjectConfig.load's search: beside loom.toml first, then the working directory."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "loom.toml").write_text('name = "${FROM_DOTENV}"\n')
    (project / ".env").write_text("FROM_DOTENV=from-cwd\n")
    assert ProjectConfig.load(elsewhere / "loom.toml").name == "from-cwd"


def test_to_env_vars() -> None:
    """ProjectConfig.to_env_vars: LOOM_BRIDGE_ADDR; LOOM_DASHBOARD, _HOST, _PORT when the
    dashboard is enabled; the first LLM provider's key, base and model."""
    config = ProjectConfig()
    config.bridge.address = "127.0.0.1:9999"
    config.dashboard.port = 8080
    config.llm_providers["deepseek"] = LLMProviderConfig(
        name="deepseek",
        type="http",
        api_key="sk-test",
        api_base="https://api.deepseek.com",
        model="deepseek-chat",
    )
    config.llm_providers["local"] = LLMProviderConfig(name="local", type="http", model="qwen")
    assert config.to_env_vars() == {
        "LOOM_BRIDGE_ADDR": "127.0.0.1:9999",
        "LOOM_DASHBOARD": "true",
        "LOOM_DASHBOARD_HOST": "127.0.0.1",
        "LOOM_DASHBOARD_PORT": "8080",
        "LOOM_LLM_API_KEY": "sk-test",
        "LOOM_LLM_API_BASE": "https://api.deepseek.com",
        "LOOM_LLM_MODEL": "deepseek-chat",
    }
    config.dashboard.enabled = False
    config.llm_providers.clear()
    assert config.to_env_vars() == {"LOOM_BRIDGE_ADDR": "127.0.0.1:9999"}


def test_the_seeds_project_configuration_example(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's "Project Configuration" example on its own loom.toml: ``config.llm`` and
    ``base_url`` (the seed's spellings) read Loom's llm_providers and api_base."""
    (project / "loom.toml").write_text(SEED_LOOM_TOML)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-secret-1")

    # Load from directory
    config = load_project_config(Path(project))

    # Access configuration
    assert config.bridge.address == "localhost:50051"  # Bridge address
    assert config.llm["deepseek"].base_url == "https://api.deepseek.com/v1"  # LLM config
    assert config.mcp_servers["brave"].command == "npx"  # MCP server config
    assert config.dashboard.enabled is True  # Dashboard settings

    assert config.llm_providers["deepseek"].api_base == "https://api.deepseek.com/v1"
    assert config.llm["deepseek"].api_key == "sk-secret-1"
    assert config.mcp_servers["brave"].args == ["-y", "@modelcontextprotocol/server-brave-search"]
    assert config.mcp_servers["brave"].env == {"BRAVE_API_KEY": "${BRAVE_API_KEY}"}  # unset
    assert "secret" not in repr(config)


def test_a_bad_loom_toml_is_a_runtime_error_naming_the_line(project: Path) -> None:
    """ProjectConfig.load raises RuntimeError for a file it cannot parse; treadle's is
    also a ConfigError naming the file, the line and the field, and a value of the wrong
    type is one too (Loom would carry it on)."""
    path = project / "loom.toml"
    path.write_text('name = "x"\n[dashboard]\nport = "x"\n')
    with pytest.raises(LoomConfigError) as wrong:
        load_project_config(project)
    assert isinstance(wrong.value, RuntimeError)
    assert (wrong.value.file, wrong.value.line, wrong.value.field) == (
        str(path),
        3,
        "dashboard.port",
    )
    path.write_text("[bridge\n")
    with pytest.raises(RuntimeError) as syntax:
        ProjectConfig.load(path)
    assert isinstance(syntax.value, ConfigError)
    assert syntax.value.line == 1


# -- embedded.py: where binaries come from ----------------------------------------------------


def test_platform_tag_cache_dir_and_binary_path(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """embedded.py: platform_tag() is OS-ARCH with darwin as macos; cache_dir() is
    platformdirs' user cache dir for "loom" plus bin; binary_path is VERSION/PLATFORM/NAME,
    version "latest" by default."""
    assert platform_tag() == f"linux-{os.uname().machine.replace('amd64', 'x86_64')}"
    assert cache_dir() == Path(os.environ["HOME"]) / ".cache" / "loom" / "bin"
    monkeypatch.setenv("XDG_CACHE_HOME", str(project / "xdg"))
    assert cache_dir() == project / "xdg" / "loom" / "bin"
    assert binary_path("loom-core", "0.1.0") == cache_dir() / "0.1.0" / platform_tag() / "loom-core"
    assert binary_path("loom-core") == cache_dir() / "latest" / platform_tag() / "loom-core"
    monkeypatch.setattr(_loom_binaries, "_treadle_platform", lambda: "darwin-aarch64")
    assert platform_tag() == "macos-aarch64"


def test_verify_checksum(tmp_path: Path) -> None:
    """verify_checksum: True for the file's sha256 in either case, or when none is given."""
    path = tmp_path / "test.bin"
    path.write_bytes(b"test content for checksum")
    digest = sha256(b"test content for checksum")
    assert verify_checksum(path, digest)
    assert verify_checksum(path, digest.upper())
    assert not verify_checksum(path, "0" * 64)
    assert verify_checksum(path, None)


def test_find_local_build(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """find_local_build: the cargo workspace from up to 5 levels up (else the cwd);
    target/, bridge/target/, core/target/; release first unless prefer_release=False."""
    assert find_local_build(RUNTIME) is None
    repo = project / "repo"
    (repo / "demo" / "market-analyst").mkdir(parents=True)
    (repo / "Cargo.toml").write_text('[workspace]\nmembers = ["core", "bridge"]\n')
    debug = install(repo / "bridge" / "target" / "debug" / RUNTIME, b"debug")
    release = install(repo / "core" / "target" / "release" / RUNTIME, b"release")
    monkeypatch.chdir(repo / "demo" / "market-analyst")
    assert find_local_build(RUNTIME) == release
    assert find_local_build(RUNTIME, prefer_release=False) == debug
    monkeypatch.setenv("LOOM_PREFER_DEBUG", "1")  # the seed's variable, where asked (None)
    assert find_local_build(RUNTIME, prefer_release=None) == debug
    deep = repo / "a" / "b" / "c" / "d" / "e"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)  # the workspace is 5 levels up: out of reach
    assert find_local_build(RUNTIME) is None


def test_a_local_build_is_copied_into_the_cache(project: Path) -> None:
    """get_binary: a local build first (allow_local), copied to binary_path and made
    executable; the cache's path is returned."""
    build = install(project / "target" / "release" / RUNTIME, runtime("9.9.9"))
    found = get_binary(RUNTIME)
    assert found == binary_path(RUNTIME, "latest")
    assert found.read_bytes() == build.read_bytes()
    assert os.access(found, os.X_OK)
    assert get_binary(RUNTIME, "0.1.0", allow_local=True) == binary_path(RUNTIME, "0.1.0")


def test_a_release_is_downloaded_verified_unpacked_and_then_cached(
    project: Path, server: Server
) -> None:
    """download_from_github: {base}/v{version}/{name}-{version}-{platform}.tar.gz and its
    .sha256, unpacked into cache_dir()/VERSION/PLATFORM; validate_cached_binary keeps a
    cached file whose --version is the version asked, so it is not fetched again."""
    asset = release(server, "0.1.0", runtime("0.1.0"))
    found = get_binary(RUNTIME, "0.1.0", allow_local=False)
    assert found == binary_path(RUNTIME, "0.1.0")
    assert found.read_bytes() == runtime("0.1.0")
    assert os.access(found, os.X_OK)
    assert get_binary(RUNTIME, "0.1.0") == found  # no local build: the cache
    assert server.count(asset) == 1
    assert server.count(asset + ".sha256") == 1
    assert sorted(p.name for p in found.parent.iterdir()) == [RUNTIME]  # nothing else left


def test_a_cached_binary_of_another_version_is_fetched_again(project: Path, server: Server) -> None:
    """validate_cached_binary: a cached file whose --version is another version (or none)
    is removed and downloaded again; "latest" is never checked."""
    stale = install(binary_path(RUNTIME, "0.1.0"), runtime("0.0.9"))
    assert get_binary_version(stale) == "0.0.9"  # the last word of `--version`
    asset = release(server, "0.1.0", runtime("0.1.0"))
    assert get_binary(RUNTIME, "0.1.0").read_bytes() == runtime("0.1.0")
    assert server.count(asset) == 1
    install(binary_path(RUNTIME), runtime("0.0.9"))
    assert get_binary(RUNTIME).read_bytes() == runtime("0.0.9")  # latest: taken as it is
    mute = install(project / "mute", b"#!/bin/sh\nexit 0\n")
    assert get_binary_version(mute) is None  # says nothing: no version
    assert not validate_cached_binary(mute, "mute", "1.0")
    assert not mute.exists()  # removed, to be fetched again


def test_the_checksum_file_is_optional_and_a_wrong_one_keeps_nothing(
    project: Path, server: Server
) -> None:
    """download_from_github: no .sha256 → not verified, kept; a .sha256 that does not match
    → RuntimeError ("Checksum verification failed" in Loom) and nothing cached."""
    release(server, "0.1.0", runtime(), digest=None)
    assert get_binary(RUNTIME, "0.1.0").read_bytes() == runtime()
    release(server, "0.2.0", runtime("0.2.0"), digest="0" * 64)
    with pytest.raises(ReleaseDownloadError, match="has sha256") as caught:
        get_binary(RUNTIME, "0.2.0")
    assert isinstance(caught.value, RuntimeError)
    assert list(binary_path(RUNTIME, "0.2.0").parent.iterdir()) == []


def test_a_missing_release_or_binary_is_an_error(project: Path, server: Server) -> None:
    """download_from_github: a failed download is a RuntimeError; an archive without the
    binary is a FileNotFoundError ("Binary not found after extraction")."""
    with pytest.raises(ReleaseDownloadError, match="HTTP 404") as missing:
        get_binary(RUNTIME, "0.3.0")
    assert isinstance(missing.value, RuntimeError)
    asset = f"/v0.4.0/{RUNTIME}-0.4.0-{platform_tag()}.tar.gz"
    server.files[asset] = Served(archive({"README": b"no binary here"}))
    with pytest.raises(BinaryNotInArchive, match="Binary not found after extraction"):
        get_binary(RUNTIME, "0.4.0")
    with pytest.raises(FileNotFoundError):
        get_binary(RUNTIME, "0.4.0")


def test_force_download_skips_the_local_build_and_the_cache(project: Path, server: Server) -> None:
    """get_binary(force_download=True): neither a local build nor the cache is used."""
    install(project / "target" / "release" / RUNTIME, b"local")
    install(binary_path(RUNTIME, "0.1.0"), runtime("0.1.0"))
    asset = release(server, "0.1.0", runtime("0.1.0") + b"# released\n")
    for _ in range(2):
        found = get_binary(RUNTIME, "0.1.0", force_download=True)
        assert found.read_bytes().endswith(b"# released\n")
    assert server.count(asset) == 2


async def test_the_seeds_custom_binary_download(
    project: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed's "Custom Binary Download" example: get_binary awaited, with ``name=``;
    its version's own "v" is not doubled in the release's tag."""
    asset = release(server, "v0.1.0-alpha.1", runtime("0.1.0-alpha.1"), name="loom-bridge")

    # Download specific version
    binary = await get_binary(
        name="loom-bridge",
        version="v0.1.0-alpha.1",
        force_download=True,  # Skip cache
    )

    print(f"Binary location: {binary}")
    print(f"Cache directory: {cache_dir()}")

    out = capsys.readouterr().out
    assert f"Binary location: {binary_path('loom-bridge', 'v0.1.0-alpha.1')}\n" in out
    assert f"Cache directory: {cache_dir()}\n" in out
    assert asset == f"/v0.1.0-alpha.1/loom-bridge-v0.1.0-alpha.1-{platform_tag()}.tar.gz"
    assert server.count(asset) == 1
