"""Loom's runtime interface (``loom.runtime``: orchestrator, embedded binaries, project
configuration, and the ``loom run|up|down`` commands) over treadle.

For code written to ``loom.runtime`` (or ``loom.runtime.config``, ``.embedded``,
``.orchestrator``): the same names, arguments, defaults and file layouts, so that only
the import lines change. What treadle brings underneath:

- the orchestrator's runtime and agents are process children of a treadle Supervisor
  (process groups, killed with this process, SIGTERM then SIGKILL); an agent that fails
  is restarted, as the seed promises (Loom only warns);
- downloads go through :mod:`treadle.artifacts`' transfer (streamed, verified against the
  release's ``.sha256`` when there is one, renamed into place: nothing partial is kept);
- ``loom.toml`` is read by :func:`treadle.project.load_toml`: a syntax error or a wrong
  type names the file, the line and the field.

The seed's own spellings work beside Loom's: ``await get_binary(name=...)``, ``await
start_bridge(port=...)``, ``config.llm[...]``, ``base_url``. Where treadle differs on
purpose, docs/seeds.md (seed 002) says so and why. The modules: ``_loom_config``,
``_loom_binaries``, ``_loom_embedded``, ``_loom_process``, ``_loom_orchestrator``,
``_loom_cli`` (``python -m treadle.compat.loom run``).
"""

from __future__ import annotations

from ._loom_binaries import RELEASE_BASE_URL as RELEASE_BASE_URL
from ._loom_binaries import BinaryNotInArchive as BinaryNotInArchive
from ._loom_binaries import BinaryPath as BinaryPath
from ._loom_binaries import ReleaseDownloadError as ReleaseDownloadError
from ._loom_binaries import binary_path as binary_path
from ._loom_binaries import cache_dir as cache_dir
from ._loom_binaries import download_from_github as download_from_github
from ._loom_binaries import ensure_executable as ensure_executable
from ._loom_binaries import find_local_build as find_local_build
from ._loom_binaries import get_binary as get_binary
from ._loom_binaries import get_binary_version as get_binary_version
from ._loom_binaries import platform_tag as platform_tag
from ._loom_binaries import validate_cached_binary as validate_cached_binary
from ._loom_binaries import verify_checksum as verify_checksum
from ._loom_cli import main as main
from ._loom_config import BridgeConfig as BridgeConfig
from ._loom_config import DashboardConfig as DashboardConfig
from ._loom_config import LLMProviderConfig as LLMProviderConfig
from ._loom_config import LoomConfigError as LoomConfigError
from ._loom_config import MCPServerConfig as MCPServerConfig
from ._loom_config import ProjectConfig as ProjectConfig
from ._loom_config import load_project_config as load_project_config
from ._loom_embedded import RuntimeProcess as RuntimeProcess
from ._loom_embedded import start_binary as start_binary
from ._loom_embedded import start_bridge as start_bridge
from ._loom_embedded import start_core as start_core
from ._loom_orchestrator import Orchestrator as Orchestrator
from ._loom_orchestrator import OrchestratorConfig as OrchestratorConfig
from ._loom_orchestrator import run_orchestrator as run_orchestrator
from ._loom_process import ProcessInfo as ProcessInfo
from ._loom_process import SupervisedProcess as SupervisedProcess

__all__ = [
    "RELEASE_BASE_URL",
    "BinaryNotInArchive",
    "BinaryPath",
    "BridgeConfig",
    "DashboardConfig",
    "LLMProviderConfig",
    "LoomConfigError",
    "MCPServerConfig",
    "Orchestrator",
    "OrchestratorConfig",
    "ProcessInfo",
    "ProjectConfig",
    "ReleaseDownloadError",
    "RuntimeProcess",
    "SupervisedProcess",
    "binary_path",
    "cache_dir",
    "download_from_github",
    "ensure_executable",
    "find_local_build",
    "get_binary",
    "get_binary_version",
    "load_project_config",
    "main",
    "platform_tag",
    "run_orchestrator",
    "start_binary",
    "start_bridge",
    "start_core",
    "validate_cached_binary",
    "verify_checksum",
]

if __name__ == "__main__":
    raise SystemExit(main())
