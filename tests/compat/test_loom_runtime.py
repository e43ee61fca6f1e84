"""treadle.compat.loom against ``loom.runtime``'s processes (loom-os/loom,
loom-py/src/loom/runtime/embedded.py's start_*, orchestrator.py, and the run, up and down
commands of loom/cli/main.py): each test pins one public behaviour, its expected values
read from that code (named in the docstring), plus the seed's own examples with only
their imports changed.

Everything is real: the runtime is a script named ``loom-bridge-server`` in a temporary
cache, the agents are Python scripts, and each records what it was given (its
environment, argv, cwd) for the test to read.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.artifacts._server import Server
from treadle import ConfigError
from treadle.compat.loom import (
    BridgeConfig,
    Orchestrator,
    OrchestratorConfig,
    ProcessInfo,
    ReleaseDownloadError,
    binary_path,
    load_project_config,
    start_bridge,
    start_core,
)

from ._loom_support import (
    AGENT,
    FLAKY_AGENT,
    RUNTIME,
    SEED_LOOM_TOML,
    free_port,
    gone,
    install,
    reap,
    records,
    runtime,
    wait_records,
)

# -- embedded.py: starting the runtime --------------------------------------------------------


def test_start_bridge_runs_loom_bridge_server_at_its_address(project: Path, markers: Path) -> None:
    """start_bridge(address): loom-bridge-server with LOOM_BRIDGE_ADDR (and nothing of the
    dashboard), returned as a subprocess.Popen at once."""
    install(binary_path(RUNTIME), runtime())
    proc = start_bridge("127.0.0.1:6001")
    try:
        assert isinstance(proc, subprocess.Popen)
        (ran,) = wait_records(markers, "runtime")
        assert ran["pid"] == proc.pid
        assert ran["argv"] == [str(binary_path(RUNTIME))]
        assert ran["env"]["LOOM_BRIDGE_ADDR"] == "127.0.0.1:6001"
        assert "LOOM_DASHBOARD" not in ran["env"]
        assert proc.poll() is None
    finally:
        reap(proc)
    assert proc.returncode == -signal.SIGTERM


def test_start_core_is_the_bridge_with_its_dashboard_and_mcp_servers(
    project: Path, markers: Path
) -> None:
    """start_core(bridge_addr, dashboard_port, ..., mcp_servers): loom-bridge-server too,
    with LOOM_DASHBOARD=true, LOOM_DASHBOARD_PORT and LOOM_MCP_SERVERS as JSON."""
    install(binary_path(RUNTIME, "0.1.0"), runtime("0.1.0"))
    servers = {"fs": {"command": "mcp-fs", "args": ["--root", "/"], "env": {}}}
    proc = start_core("127.0.0.1:6002", 4040, version="0.1.0", mcp_servers=servers)
    try:
        (ran,) = wait_records(markers, "runtime")
        assert ran["env"]["LOOM_BRIDGE_ADDR"] == "127.0.0.1:6002"
        assert ran["env"]["LOOM_DASHBOARD"] == "true"
        assert ran["env"]["LOOM_DASHBOARD_PORT"] == "4040"
        assert json.loads(ran["env"]["LOOM_MCP_SERVERS"]) == servers
    finally:
        reap(proc)


START_RUNTIME = """
import asyncio
from pathlib import Path
from treadle.compat.loom import start_bridge, start_core

async def main():
    # Start bridge
    bridge_proc = await start_bridge(port=50051)

    # Start core with dashboard
    core_proc = await start_core(dashboard_port=3030)

    print("Runtime started!")
    print("Bridge: localhost:50051")
    print("Dashboard: http://localhost:3030")

    # Wait for shutdown signal
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_the_seeds_start_runtime_programmatically_example(project: Path, markers: Path) -> None:
    """The seed's example: start_bridge(port=) and start_core(dashboard_port=) awaited;
    Ctrl+C ends the program and (treadle's addition) the runtimes it started with it."""
    install(binary_path(RUNTIME), runtime())
    (project / "main.py").write_text(START_RUNTIME)
    proc = subprocess.Popen(
        [sys.executable, "main.py"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "Runtime started!\n"
        bridge, core = sorted(wait_records(markers, "runtime", 2), key=lambda r: len(r["env"]))
        assert bridge["env"]["LOOM_BRIDGE_ADDR"] == "127.0.0.1:50051"
        assert core["env"]["LOOM_DASHBOARD_PORT"] == "3030"
        proc.send_signal(signal.SIGINT)  # the shutdown signal the example waits for
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert gone([bridge["pid"], core["pid"]])


# -- orchestrator.py --------------------------------------------------------------------------


def test_orchestrator_config_and_a_new_orchestrator(project: Path) -> None:
    """OrchestratorConfig's fields and defaults in Loom's order; Orchestrator() loads the
    project's loom.toml and has started nothing."""
    config = OrchestratorConfig(project_dir=project)
    assert (config.logs_dir, config.runtime_mode, config.runtime_version) == (
        None,
        "full",
        "latest",
    )
    assert (config.bridge_port, config.dashboard_port, config.startup_wait_sec) == (None, 3030, 2.0)
    assert (config.agent_scripts, config.prefer_release, config.force_download) == (
        [],
        True,
        False,
    )
    positional = OrchestratorConfig(project, Path("logs"), "bridge-only", "0.2.0", 9999)
    assert (positional.logs_dir, positional.bridge_port) == (Path("logs"), 9999)
    (project / "loom.toml").write_text('name = "orchestrated"\n')
    orchestrator = Orchestrator(OrchestratorConfig(project, logs_dir=project / "new-logs"))
    assert orchestrator.project_config.name == "orchestrated"
    assert orchestrator.runtime_proc is None
    assert orchestrator.agent_procs == []
    assert not orchestrator._shutdown_requested
    assert (project / "new-logs").is_dir()


ORCHESTRATE = """
import asyncio
from pathlib import Path
from treadle.compat.loom import OrchestratorConfig, run_orchestrator

async def main():
    config = OrchestratorConfig(
        project_dir=Path.cwd(),
        runtime_mode="full",
        agent_scripts=[
            Path("agents/researcher.py"),
            Path("agents/analyst.py"),
        ],
        logs_dir=Path("logs"),
    )

    await run_orchestrator(config)

asyncio.run(main())
"""


def test_the_seeds_orchestrate_full_project_example(project: Path, markers: Path) -> None:
    """The seed's example on a project that has only a loom.toml: start_runtime runs
    loom-bridge-server at 127.0.0.1:50051 with the dashboard and the project's MCP servers;
    after startup_wait_sec, start_agents runs each script in project_dir with the file's
    variables, OTEL_SERVICE_NAME=agent-NAME and the OTLP default, stdout in logs/NAME.log
    and stderr in logs/NAME.err; SIGINT stops them all."""
    install(binary_path(RUNTIME), runtime())
    (project / "loom.toml").write_text(SEED_LOOM_TOML)
    for agent in ("researcher", "analyst"):
        (project / "agents" / f"{agent}.py").write_text(AGENT)
    (project / "main.py").write_text(ORCHESTRATE)
    proc = subprocess.Popen([sys.executable, "main.py"], stderr=subprocess.PIPE, text=True)
    try:
        (core,) = wait_records(markers, "runtime")
        (researcher,) = wait_records(markers, "researcher")
        (analyst,) = wait_records(markers, "analyst")
        proc.send_signal(signal.SIGINT)  # run_orchestrator blocks until this
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert core["env"] == {
        "LOOM_BRIDGE_ADDR": "127.0.0.1:50051",
        "LOOM_DASHBOARD": "true",
        "LOOM_DASHBOARD_PORT": "3030",
        "LOOM_MCP_SERVERS": json.dumps(
            {
                "brave": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-brave-search"],
                    "env": {"BRAVE_API_KEY": "${BRAVE_API_KEY}"},
                }
            }
        ),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317",
        "OTEL_TRACE_SAMPLER": "always_on",
        "OTEL_SERVICE_NAME": "loom-runtime",
    }
    assert researcher["env"] == {
        "LOOM_BRIDGE_ADDR": "localhost:50051",  # the file's [bridge] address, as Loom gives
        "LOOM_DASHBOARD": "true",
        "LOOM_DASHBOARD_HOST": "127.0.0.1",
        "LOOM_DASHBOARD_PORT": "3030",
        "LOOM_LLM_API_BASE": "https://api.deepseek.com/v1",
        "LOOM_LLM_MODEL": "deepseek-chat",
        "LOOM_LLM_API_KEY": "${DEEPSEEK_API_KEY}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317",
        "OTEL_TRACE_SAMPLER": "always_on",
        "OTEL_SERVICE_NAME": "agent-researcher",
    }
    assert analyst["env"]["OTEL_SERVICE_NAME"] == "agent-analyst"
    assert researcher["cwd"] == str(project)
    assert researcher["argv"] == ["agents/researcher.py"]
    # Each line as treadle logs it: "DATE TIME STREAM LINE" (Loom writes the bare line).
    assert (project / "logs" / "researcher.log").read_text().endswith(" stdout researcher up\n")
    err = (project / "logs" / "researcher.err").read_text()
    assert err.endswith(" stderr researcher says this on stderr\n")
    assert gone([core["pid"], researcher["pid"], analyst["pid"]])
    runtime_log = (project / "logs" / "loom-runtime.log").read_text()  # treadle's addition
    assert runtime_log.endswith(" stdout runtime up\n")


async def test_an_orchestrator_started_and_stopped_in_this_process(
    project: Path, markers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """start_runtime and start_agents return Loom's ProcessInfo (the runtime named
    loom-runtime and critical, agents not); bridge-only gives the bridge its address alone;
    with bridge_port the agents are told the runtime's address (Loom: the file's); without
    logs_dir the logs are loom-NAME.log in the temporary directory; shutdown stops all."""
    install(binary_path(RUNTIME, "0.1.0"), runtime("0.1.0"))
    (project / "agents" / "researcher.py").write_text(AGENT)
    monkeypatch.setattr(tempfile, "tempdir", str(project))
    port = free_port()
    config = OrchestratorConfig(
        project_dir=project,
        runtime_mode="bridge-only",
        runtime_version="0.1.0",
        bridge_port=port,
        agent_scripts=[Path("agents/researcher.py")],
    )
    orchestrator = Orchestrator(config)
    try:
        runtime_info = await orchestrator.start_runtime()
        agents = await orchestrator.start_agents()
        (bridge,) = await asyncio.to_thread(wait_records, markers, "runtime")
        (researcher,) = await asyncio.to_thread(wait_records, markers, "researcher")
    finally:
        await orchestrator.shutdown()
    assert isinstance(runtime_info, ProcessInfo)
    assert (runtime_info.name, runtime_info.pid, runtime_info.is_critical) == (
        "loom-runtime",
        bridge["pid"],
        True,
    )
    assert orchestrator.runtime_proc is runtime_info
    assert [(a.name, a.pid, a.is_critical) for a in agents] == [
        ("researcher", researcher["pid"], False)
    ]
    assert orchestrator.agent_procs == agents
    assert {k: v for k, v in bridge["env"].items() if k.startswith("LOOM_")} == {
        "LOOM_BRIDGE_ADDR": f"127.0.0.1:{port}"
    }
    assert researcher["env"]["LOOM_BRIDGE_ADDR"] == f"127.0.0.1:{port}"
    assert (project / "loom-researcher.log").read_text().endswith(" researcher up\n")
    assert runtime_info.proc.poll() == -signal.SIGTERM
    assert gone([bridge["pid"], researcher["pid"]])


async def test_a_failed_agent_is_restarted(project: Path, markers: Path) -> None:
    """The seed's "restart on failure" (Loom's monitor only warns): an agent that exits
    with an error runs again, a new process behind the same ProcessInfo."""
    install(binary_path(RUNTIME), runtime())
    (project / "agents" / "flaky.py").write_text(FLAKY_AGENT)
    config = OrchestratorConfig(
        project_dir=project, agent_scripts=[Path("agents/flaky.py")], logs_dir=project / "logs"
    )
    orchestrator = Orchestrator(config)
    try:
        await orchestrator.start_runtime()
        (flaky,) = await orchestrator.start_agents()
        first, second = await asyncio.to_thread(wait_records, markers, "flaky", 2)
        assert flaky.proc.pid == second["pid"] != first["pid"]
        assert flaky.proc.poll() is None
    finally:
        await orchestrator.shutdown()
    lines = (project / "logs" / "flaky.log").read_text().splitlines()
    assert [line.rsplit(" ", 2)[1:] for line in lines] == [["run", "1"], ["run", "2"]]


async def test_the_runtimes_end_ends_the_orchestrator(project: Path, markers: Path) -> None:
    """monitor: the runtime exiting stops the watch ("Runtime process exited
    unexpectedly"), and run() then shuts the agents down."""
    install(binary_path(RUNTIME), runtime())
    (project / "agents" / "researcher.py").write_text(AGENT)
    config = OrchestratorConfig(
        project_dir=project, startup_wait_sec=0, agent_scripts=[Path("agents/researcher.py")]
    )
    orchestrator = Orchestrator(config)
    running = asyncio.create_task(orchestrator.run())
    try:
        (researcher,) = await asyncio.to_thread(wait_records, markers, "researcher")
        assert orchestrator.runtime_proc is not None
        orchestrator.runtime_proc.proc.kill()
        await asyncio.wait_for(running, 30)
    finally:
        if not running.done():
            orchestrator.request_shutdown()
            await running
    assert orchestrator._shutdown_requested
    assert orchestrator.runtime_proc.proc.poll() == -signal.SIGKILL
    assert gone([researcher["pid"]])


async def test_a_bad_mode_or_an_unresolvable_runtime_starts_nothing(
    project: Path, markers: Path, server: Server
) -> None:
    """treadle's: a runtime_mode other than full or bridge-only is a ConfigError with a
    suggestion (Loom runs "full"); a runtime that cannot be fetched fails start_runtime
    (Loom's RuntimeError) before any agent starts."""
    (project / "agents" / "researcher.py").write_text(AGENT)
    scripts = [Path("agents/researcher.py")]
    typo = OrchestratorConfig(
        project_dir=project, runtime_mode="bridge-onyl", agent_scripts=scripts
    )
    with pytest.raises(ConfigError, match="unknown mode 'bridge-onyl'") as caught:
        await Orchestrator(typo).run()
    assert caught.value.suggestion == "bridge-only"
    missing = OrchestratorConfig(project, runtime_version="0.9.0", agent_scripts=scripts)
    with pytest.raises(ReleaseDownloadError, match="HTTP 404"):
        await Orchestrator(missing).run()
    assert records(markers, "researcher") == []


# -- loom.cli: run, up, down ------------------------------------------------------------------


def loom(*args: str) -> subprocess.Popen[str]:
    """``loom ARGS`` (treadle's: ``python -m treadle.compat.loom ARGS``), started."""
    return subprocess.Popen(
        [sys.executable, "-m", "treadle.compat.loom", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ended(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Its output once it has ended (killed, and the test failed, if it takes too long)."""
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return out, err


def test_loom_run_runs_the_projects_agents_and_loom_down_stops_it(
    project: Path, markers: Path
) -> None:
    """cmd_run: agents/*.py (sorted) and the first of main.py, run.py, app.py under the
    orchestrator, --logs into logs/; cmd_down: the runtime is stopped, and the
    orchestrator, its runtime gone, stops its agents and ends. A loom-bridge-server not
    from Loom's cache (here: a build run by hand) is not treadle's to stop."""
    install(binary_path(RUNTIME), runtime())
    for agent in ("writer", "reader", "main"):
        (project / "agents" / f"{agent}.py").write_text(AGENT)
    (project / "main.py").write_text(AGENT)
    (project / "app.py").write_text(AGENT)
    stranger = subprocess.Popen([install(project / "target" / "release" / RUNTIME, runtime())])
    run = loom("run", "--logs", "--startup-wait", "0", "--mode", "bridge-only")
    try:
        runtimes = wait_records(markers, "runtime", 2)
        (bridge,) = [r for r in runtimes if "LOOM_BRIDGE_ADDR" in r["env"]]
        agents = [*wait_records(markers, "main", 2), wait_records(markers, "reader")[0]]
        agents.append(wait_records(markers, "writer")[0])
        down = loom("down")
        out, _ = ended(down)
        assert out.splitlines()[-1] == "[loom] Shutdown complete (1 processes killed)"
        _, err = ended(run)
        assert stranger.poll() is None
    finally:
        reap(stranger)
        if run.poll() is None:
            ended(run)
    assert run.returncode == 0, err
    assert "the runtime exited unexpectedly" in err
    assert records(markers, "app") == []  # only the first entry point
    assert gone([bridge["pid"], *(a["pid"] for a in agents)])
    assert (project / "logs" / "main.log").exists()  # agents/main.py
    assert (project / "logs" / "main-2.log").exists()  # main.py: the second "main"
    assert ended(loom("down"))[0] == "[loom] No Loom processes found\n"


def test_loom_run_a_script_runs_it(project: Path, markers: Path) -> None:
    """cmd_run with a file: that script in place of the command (os.execv, the same pid)."""
    (project / "agents" / "solo.py").write_text(AGENT)
    run = loom("run", "agents/solo.py")
    try:
        (solo,) = wait_records(markers, "solo")
        assert solo["pid"] == run.pid
        run.terminate()
    finally:
        out, _ = ended(run)
    assert out.startswith("[loom] Running script: agents/solo.py\n")


EXISTING = """\
# my project
name = "kept"

[bridge]
timeout_sec = 5  # kept
address = "127.0.0.1:1"

[llm.deepseek]
model = "deepseek-chat"
"""


def test_loom_up_records_its_bridge_in_loom_toml_and_stops_with_it(
    project: Path, markers: Path
) -> None:
    """cmd_up: the runtime at 127.0.0.1:--bridge-port, [bridge] address, mode and version
    written into ./loom.toml (treadle keeps every other line; Loom rewrites the file and
    loses its comments and nested tables); SIGTERM or Ctrl+C stops the runtime too."""
    install(binary_path(RUNTIME), runtime())
    (project / "loom.toml").write_text(EXISTING)
    port = free_port()
    up = loom("up", "--mode", "bridge-only", "--bridge-port", str(port))
    try:
        (bridge,) = wait_records(markers, "runtime")
        assert up.stdout is not None
        while (line := up.stdout.readline()) != "[loom] Press Ctrl+C to stop.\n":
            assert line, "up ended early"
        up.send_signal(signal.SIGTERM)
    finally:
        ended(up)
    assert up.returncode == 0
    assert bridge["env"]["LOOM_BRIDGE_ADDR"] == f"127.0.0.1:{port}"
    assert gone([bridge["pid"]])
    config = load_project_config(project)
    assert config.bridge == BridgeConfig(f"127.0.0.1:{port}", "bridge-only", "latest", 5)
    assert config.name == "kept"
    assert config.llm["deepseek"].model == "deepseek-chat"
    text = (project / "loom.toml").read_text()
    assert text.startswith("# my project\n")
    assert "timeout_sec = 5  # kept\n" in text


def test_up_leaves_alone_a_loom_toml_it_cannot_edit(tmp_path: Path) -> None:
    """treadle's: the [bridge] table is edited in place; a file that is no TOML, or whose
    bridge is not a [bridge] table, is left as it is (Loom would overwrite it)."""
    from treadle.compat._loom_cli import write_bridge

    path = tmp_path / "loom.toml"
    assert write_bridge(path, "127.0.0.1:1", "full", "latest")  # made when missing
    assert load_project_config(tmp_path).bridge == BridgeConfig("127.0.0.1:1", "full", "latest")
    for text in ('bridge = { address = "x" }\n', "[bridge\n", 'bridge.address = "x"\n'):
        path.write_text(text)
        assert not write_bridge(path, "127.0.0.1:2", "full", "latest")
        assert path.read_text() == text
