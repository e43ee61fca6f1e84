"""The example project's loops (see treadle.toml beside this file)."""

from __future__ import annotations

import logging
import random

from treadle.loop import Loop, loop

log = logging.getLogger("shop")


class PriceFeed(Loop):
    """Polls a (pretend) price feed once a second."""

    def __init__(self, symbols: list[str], **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.symbols = symbols
        self.prices = {s: 100.0 for s in symbols}

    async def run_once(self) -> None:
        for symbol in self.symbols:
            self.prices[symbol] *= 1 + random.uniform(-0.01, 0.01)


@loop(interval=0.5)
async def flaky() -> None:
    """Fails one run in four: the loop counts it, backs off, and goes on."""
    if random.random() < 0.25:
        raise ConnectionError("the pretend upstream hung up")


class Cleaner(Loop):
    async def run_once(self) -> None:
        log.info("cleaned")
