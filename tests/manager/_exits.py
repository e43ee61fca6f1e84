"""A loop target whose module calls ``sys.exit`` on import (a script imported by mistake)."""

import sys

from treadle.loop import Loop

sys.exit(7)


class Never(Loop):  # pragma: no cover (never reached)
    async def run_once(self) -> None:
        pass
