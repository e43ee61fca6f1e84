"""Process children: OS processes supervised like any other child."""

from ._checks import CommandCheck as CommandCheck
from ._checks import FileHeartbeat as FileHeartbeat
from ._checks import HealthCheck as HealthCheck
from ._checks import HttpCheck as HttpCheck
from ._checks import TcpCheck as TcpCheck
from ._process import Process as Process
from ._records import Leftovers as Leftovers
from ._records import clear_leftovers as clear_leftovers
from ._records import reap_leftovers as reap_leftovers
from ._spawner import Spawner as Spawner
from ._spawner import spawner as spawner
from ._spec import ProcessSpec as ProcessSpec

__all__ = [
    "CommandCheck",
    "FileHeartbeat",
    "HealthCheck",
    "HttpCheck",
    "Leftovers",
    "Process",
    "ProcessSpec",
    "Spawner",
    "TcpCheck",
    "clear_leftovers",
    "reap_leftovers",
    "spawner",
]
