"""The manager: a long-running task that runs what the broker's spawn queue asks for."""

from ._manager import Manager as Manager
from ._registry import alive as alive
from ._registry import latest as latest
from ._registry import stale_reason as stale_reason

__all__ = ["Manager", "alive", "latest", "stale_reason"]
