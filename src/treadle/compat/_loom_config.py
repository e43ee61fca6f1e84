"""Loom's project configuration: ``loom.toml`` as ``loom.runtime.config`` reads it.

Owns the seed's types (plain mutable dataclasses with Loom's defaults), finding
``loom.toml`` (from a directory upward), the ``.env`` read beside it, Loom's ``$VAR``
rules, and :meth:`ProjectConfig.to_env_vars`. Reading the file is treadle's
:func:`~treadle.project.load_toml` (a syntax error or a wrong type names the file, the
line and the field); what Loom ignores (unknown keys, a non-table under ``[llm]``) is
ignored here too. It does not own starting anything: that is the orchestrator's.
"""

from __future__ import annotations

import ast
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, model_validator

from .._exceptions import ConfigError
from ..project import load_toml
from ..project._dotenv import read_dotenv

__all__ = [
    "LOOM_TOML",
    "BridgeConfig",
    "DashboardConfig",
    "LLMProviderConfig",
    "LoomConfigError",
    "MCPServerConfig",
    "ProjectConfig",
    "expand_env_vars",
    "load_project_config",
]

LOOM_TOML: Final = "loom.toml"
DEFAULT_BRIDGE: Final = "127.0.0.1:50051"
_VAR: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_log = logging.getLogger("treadle.compat.loom")


class LoomConfigError(ConfigError, RuntimeError):
    """A loom.toml that cannot be read: a ConfigError (file, line, field) that is also the
    RuntimeError Loom raises for it."""


@dataclass
class BridgeConfig:
    """``[bridge]``: where agents reach the bridge, and how ``loom up`` started it."""

    address: str = DEFAULT_BRIDGE
    mode: str = "full"  # or "bridge-only"
    version: str = "latest"
    timeout_sec: int = 30


@dataclass
class LLMProviderConfig:
    """``[llm.NAME]``; ``api_key`` is never shown in a repr. The seed's ``base_url`` is
    read as ``api_base`` and reads it back."""

    name: str
    type: str
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    model: str | None = None
    max_tokens: int = 2048
    temperature: float = 0.7
    timeout_sec: int = 30
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str | None:
        return self.api_base


@dataclass
class MCPServerConfig:
    """``[mcp.NAME]``: an MCP server's command line; its ``env`` is never shown in a repr."""

    name: str
    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass
class DashboardConfig:
    """``[dashboard]``: what the runtime serves (Loom's dashboard, in loom-bridge-server)."""

    enabled: bool = True
    port: int = 3030
    host: str = "127.0.0.1"


@dataclass
class ProjectConfig:
    """A Loom project's configuration (its defaults when there is no loom.toml).

    ``file`` is the loom.toml read, if any (treadle's addition).
    """

    name: str | None = None
    version: str = "0.1.0"
    description: str | None = None
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    llm_providers: dict[str, LLMProviderConfig] = field(default_factory=dict)
    mcp_servers: dict[str, MCPServerConfig] = field(default_factory=dict)
    agents: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None

    @property
    def llm(self) -> dict[str, LLMProviderConfig]:
        """The seed's name for :attr:`llm_providers`."""
        return self.llm_providers

    @classmethod
    def load(cls, path: Path | str = Path(LOOM_TOML)) -> ProjectConfig:
        """The file at ``path``; the defaults when there is none.

        First the first ``.env`` found (beside the file, in the working directory, then
        in each directory above the file) sets the variables not already set. Every
        string then has ``${VAR}`` and ``$VAR`` replaced by the variable's value; an unset
        one stays as written.

        Raises:
            LoomConfigError: not TOML, or a value of the wrong type (file, line, field).
        """
        path = Path(path)
        if not path.exists():
            return cls()
        _load_dotenv(path)
        try:
            table = load_toml(path, _File, expand=expand_env_vars)
        except ConfigError as exc:
            raise LoomConfigError(
                exc.field, exc.message, file=exc.file, line=exc.line, column=exc.column
            ) from None
        return table.to_config(path)

    def to_env_vars(self) -> dict[str, str]:
        """What the runtime and the agents are given: the bridge's address, the dashboard
        (when enabled), and the first LLM provider's key, base and model."""
        env = {"LOOM_BRIDGE_ADDR": self.bridge.address}
        if self.dashboard.enabled:
            env["LOOM_DASHBOARD"] = "true"
            env["LOOM_DASHBOARD_HOST"] = self.dashboard.host
            env["LOOM_DASHBOARD_PORT"] = str(self.dashboard.port)
        first = next(iter(self.llm_providers.values()), None)
        if first is not None:
            for key, value in (
                ("LOOM_LLM_API_KEY", first.api_key),
                ("LOOM_LLM_API_BASE", first.api_base),
                ("LOOM_LLM_MODEL", first.model),
            ):
                if value:
                    env[key] = value
        return env


def load_project_config(start_dir: Path | str = Path(".")) -> ProjectConfig:
    """The configuration of the first ``loom.toml`` in ``start_dir`` or a directory above
    it; the defaults when there is none."""
    current = Path(start_dir).resolve()
    while current != current.parent:
        candidate = current / LOOM_TOML
        if candidate.exists():
            return ProjectConfig.load(candidate)
        current = current.parent
    return ProjectConfig()


def expand_env_vars(text: str) -> str:
    """``text`` with each ``${VAR}`` and ``$VAR`` replaced by the variable's value; one
    that is not set stays as written."""
    if "$" not in text:
        return text
    return _VAR.sub(lambda m: os.environ.get(m.group(1) or m.group(2), m.group(0)), text)


def _load_dotenv(config: Path) -> None:
    """The first .env of Loom's search: beside ``config``, in the cwd, then each directory
    above ``config`` (the root's aside); its variables set where none is set already. A
    malformed file is skipped with a warning (naming its line, never a value)."""
    directory = config.parent
    candidates = [directory / ".env", Path.cwd() / ".env"]
    current = directory
    while current != current.parent:
        candidates.append(current / ".env")
        current = current.parent
    for candidate in candidates:
        if candidate.exists():
            try:
                values = read_dotenv(candidate)
            except ConfigError as exc:
                _log.warning("%s: not loaded", exc)
                return
            for key, value in values.items():
                os.environ.setdefault(key, value)
            return


# -- the file's schema: Loom's keys and types; anything else is ignored, as Loom does ----------


class _Table(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Bridge(_Table):
    address: str = DEFAULT_BRIDGE
    mode: str = "full"
    version: str = "latest"
    timeout_sec: int = 30


class _Dashboard(_Table):
    enabled: bool = True
    port: int = 3030
    host: str = "127.0.0.1"


class _LLM(_Table):
    type: str = "http"
    api_key: str | None = None
    api_base: str | None = None
    base_url: str | None = None  # the seed's spelling of api_base
    model: str | None = None
    max_tokens: int = 2048
    temperature: float = 0.7
    timeout_sec: int = 30
    extra: dict[str, Any] = {}


class _MCP(_Table):
    command: str = ""
    args: list[str] = []
    env: dict[str, str] = {}


class _File(_Table):
    name: str | None = None
    version: str = "0.1.0"
    description: str | None = None
    bridge: _Bridge | None = None
    dashboard: _Dashboard | None = None
    llm: dict[str, _LLM] = {}
    mcp: dict[str, _MCP] = {}
    agents: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _tables_only(cls, data: Any) -> Any:
        """Loom skips an entry of ``[llm]`` or ``[mcp]`` that is not a table."""
        if isinstance(data, dict):
            for key in ("llm", "mcp"):
                entries = data.get(key)
                if isinstance(entries, dict):
                    data = {**data, key: {k: v for k, v in entries.items() if isinstance(v, dict)}}
        return data

    def to_config(self, path: Path) -> ProjectConfig:
        bridge, dashboard = self.bridge or _Bridge(), self.dashboard or _Dashboard()
        return ProjectConfig(
            name=self.name,
            version=self.version,
            description=self.description,
            bridge=BridgeConfig(**bridge.model_dump()),
            dashboard=DashboardConfig(**dashboard.model_dump()),
            llm_providers={
                name: LLMProviderConfig(
                    name=name,
                    api_base=llm.api_base or llm.base_url,
                    **llm.model_dump(exclude={"api_base", "base_url"}),
                )
                for name, llm in self.llm.items()
            },
            mcp_servers={
                name: MCPServerConfig(name=name, **mcp.model_dump())
                for name, mcp in self.mcp.items()
            },
            agents={name: _agent(value) for name, value in self.agents.items()},
            file=path,
        )


def _agent(value: Any) -> Any:
    """An ``[agents.NAME]`` table as it is; Loom's older string form (a Python dict
    literal) parsed: a dict, ``{"value": ...}`` for another literal, else ``{"_raw": ...}``."""
    if not isinstance(value, str):
        return value
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return {"_raw": value}
    return parsed if isinstance(parsed, dict) else {"value": parsed}
