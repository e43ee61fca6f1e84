"""The client: the Python API through which scripts and the CLI hand work to treadle."""

from ._client import Client as Client
from ._tasks import TaskInfo as TaskInfo

__all__ = ["Client", "TaskInfo"]
