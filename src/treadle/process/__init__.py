"""Process children: OS processes supervised like any other child."""

from ._process import Process as Process
from ._spec import ProcessSpec as ProcessSpec

__all__ = ["Process", "ProcessSpec"]
