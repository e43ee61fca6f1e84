"""The ``treadle`` command line (click and rich); ``treadle --help`` lists the commands."""

from ._app import Exit as Exit
from ._root import cli as cli
from ._root import main_group as main_group

__all__ = ["Exit", "cli", "main_group"]
