"""Projects: ``treadle.toml`` (or ``[tool.treadle]`` in pyproject.toml, or a Procfile)
loaded, validated and built into a Supervisor tree."""

from ._build import build_child as build_child
from ._build import build_tree as build_tree
from ._config import ChildInfo as ChildInfo
from ._config import ProjectConfig as ProjectConfig
from ._diff import ProjectDiff as ProjectDiff
from ._diff import diff as diff
from ._draft import Draft as Draft
from ._load import find_project as find_project
from ._load import load_project as load_project
from ._pm2 import from_pm2 as from_pm2
from ._procfile import load_procfile as load_procfile
from ._rows import Row as Row
from ._rows import rows as rows
from ._runtime import ProjectRuntime as ProjectRuntime
from ._schema import BackoffConfig as BackoffConfig
from ._schema import DashboardConfig as DashboardConfig
from ._schema import HealthConfig as HealthConfig
from ._schema import LimiterConfig as LimiterConfig
from ._schema import LoggingConfig as LoggingConfig
from ._schema import LoopConfig as LoopConfig
from ._schema import ProcessConfig as ProcessConfig
from ._schema import ProjectFile as ProjectFile
from ._schema import ProjectSection as ProjectSection
from ._schema import RootSupervisorOptions as RootSupervisorOptions
from ._schema import ScaleConfig as ScaleConfig
from ._schema import SupervisorConfig as SupervisorConfig
from ._schema import SupervisorOptions as SupervisorOptions
from ._supervisord import from_supervisord as from_supervisord
from ._toml import load_toml as load_toml
from ._units import parse_duration as parse_duration
from ._units import parse_size as parse_size

__all__ = [
    "BackoffConfig",
    "ChildInfo",
    "DashboardConfig",
    "Draft",
    "HealthConfig",
    "LimiterConfig",
    "LoggingConfig",
    "LoopConfig",
    "ProcessConfig",
    "ProjectConfig",
    "ProjectDiff",
    "ProjectFile",
    "ProjectRuntime",
    "ProjectSection",
    "RootSupervisorOptions",
    "Row",
    "ScaleConfig",
    "SupervisorConfig",
    "SupervisorOptions",
    "build_child",
    "build_tree",
    "diff",
    "find_project",
    "from_pm2",
    "from_supervisord",
    "load_procfile",
    "load_project",
    "load_toml",
    "parse_duration",
    "parse_size",
    "rows",
]
