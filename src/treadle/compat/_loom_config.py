"""Loom's project configuration: :func:`load_project_config` and the seed's types.

Owns reading what Loom's code reads from a project: the seed's own ``loom.toml`` (its
``[bridge]``, ``[dashboard]``, ``[llm.NAME]`` and ``[mcp.NAME]`` tables, unchanged, read
with treadle's rules: ``${VAR}`` interpolation, errors at file:line:column and field) and
the project's treadle.toml (what runs). Either file may be missing, not both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from .._exceptions import ConfigError
from ..project import DashboardConfig, find_project, load_project, load_toml
from ..project import ProjectConfig as TreadleProject

__all__ = [
    "BRIDGE_ADDR",
    "LOOM_TOML",
    "BridgeConfig",
    "DashboardConfig",
    "LLMProviderConfig",
    "MCPServerConfig",
    "ProjectConfig",
    "load_project_config",
]

BRIDGE_ADDR: Final = "LOOM_BRIDGE_ADDR"
DEFAULT_BRIDGE: Final = "localhost:50051"
LOOM_TOML: Final = "loom.toml"


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BridgeConfig(_Table):
    """``[bridge]``: where agents reach the bridge."""

    address: str = DEFAULT_BRIDGE


class LLMProviderConfig(_Table):
    """``[llm.NAME]``: an LLM provider; ``api_key`` is never shown in a repr."""

    base_url: str
    model: str | None = None
    api_key: str | None = Field(default=None, repr=False)


class MCPServerConfig(_Table):
    """``[mcp.NAME]``: an MCP server's command line; its ``env`` is never shown in a repr."""

    command: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, repr=False)


class _LoomFile(_Table):
    bridge: BridgeConfig | None = None
    dashboard: DashboardConfig | None = None
    llm: dict[str, LLMProviderConfig] = Field(default_factory=dict)
    mcp: dict[str, MCPServerConfig] = Field(default_factory=dict)


@dataclass(frozen=True)
class ProjectConfig:
    """The project as Loom's code reads it.

    ``project`` is treadle's whole view of what runs (None without a treadle.toml);
    ``file`` the loom.toml read, if any.
    """

    project: TreadleProject | None
    bridge: BridgeConfig
    dashboard: DashboardConfig
    llm: dict[str, LLMProviderConfig] = field(default_factory=dict)
    mcp_servers: dict[str, MCPServerConfig] = field(default_factory=dict)
    file: Path | None = None


def load_project_config(project_dir: Path | str | None = None) -> ProjectConfig:
    """The configuration of the project at ``project_dir`` (default: the current
    directory): its treadle.toml (found from there up) and the loom.toml beside it.

    ``bridge.address`` is ``$LOOM_BRIDGE_ADDR``, else loom.toml's ``[bridge]``, else the
    TCP health check of the process named ``bridge`` (or running artifact
    ``loom-bridge``), else localhost:50051. ``dashboard`` is loom.toml's, else
    treadle.toml's.

    Raises:
        ConfigError: a file is invalid (file, line, field), or neither file is there.
    """
    start = Path(project_dir) if project_dir is not None else Path.cwd()
    project = _treadle_project(start)
    directory = project.root if project is not None else start.resolve()
    path = directory / LOOM_TOML
    if not path.is_file():
        path = start.resolve() / LOOM_TOML
    loom = load_toml(path, _LoomFile) if path.is_file() else None
    if project is None and loom is None:
        raise ConfigError("project", f"no {LOOM_TOML} nor treadle.toml in {start}")
    address = (
        os.environ.get(BRIDGE_ADDR)
        or (loom.bridge.address if loom is not None and loom.bridge is not None else None)
        or (_bridge_address(project) if project is not None else None)
        or DEFAULT_BRIDGE
    )
    dashboard = loom.dashboard if loom is not None and loom.dashboard is not None else None
    if dashboard is None:
        dashboard = project.dashboard if project is not None else DashboardConfig()
    return ProjectConfig(
        project=project,
        bridge=BridgeConfig(address=address),
        dashboard=dashboard,
        llm=dict(loom.llm) if loom is not None else {},
        mcp_servers=dict(loom.mcp) if loom is not None else {},
        file=path if loom is not None else None,
    )


def _treadle_project(start: Path) -> TreadleProject | None:
    try:
        file = find_project(start)
    except ConfigError:  # none here or above: loom.toml alone may do
        return None
    return load_project(file)  # an invalid one is an error, not "no project"


def _bridge_address(project: TreadleProject) -> str | None:
    for name, process in project.processes.items():
        if (name == "bridge" or process.artifact == "loom-bridge") and process.health:
            return process.health.tcp
    return None
