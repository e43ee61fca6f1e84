"""Seed 004's custom-loop example, and the smallest stand-ins for what its other examples
refer to: its orchestrator and its own loops (QueuePopulatorLoop, ...), written as the
custom-loop example shows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from treadle.compat.p2p import BackoffConfig, BaseLoop

# -- the README's "Custom Loop", verbatim but for its import line --------------------------


class MyLoop(BaseLoop):
    def __init__(self):  # type: ignore[no-untyped-def]  # as the README writes it
        super().__init__(
            name="my_loop",
            interval=30.0,  # Run every 30 seconds
            backoff_config=BackoffConfig(
                initial_delay=5.0,
                max_delay=300.0,
                multiplier=2.0,
            ),
        )

    async def _run_once(self) -> None:
        """Override to implement loop logic."""
        # Your logic here
        pass

    async def _on_start(self) -> None:
        """Optional: called once when loop starts."""
        pass

    async def _on_stop(self) -> None:
        """Optional: called once when loop stops."""
        pass


# -- stand-ins -------------------------------------------------------------------------------


@dataclass
class SelfplayScheduler:
    """Hands out the next config to queue; records what was queued."""

    configs: tuple[str, ...] = ("hex8_2p", "square8_2p")
    queued: list[str] = field(default_factory=list)
    populated: asyncio.Event = field(default_factory=asyncio.Event)

    def next_config(self) -> str:
        return self.configs[len(self.queued) % len(self.configs)]


@dataclass
class Notifier:
    sent: list[str] = field(default_factory=list)

    def notify(self, message: str) -> None:
        self.sent.append(message)


@dataclass
class Orchestrator:
    role: str = "leader"
    selfplay_scheduler: SelfplayScheduler = field(default_factory=SelfplayScheduler)
    notifier: Notifier = field(default_factory=Notifier)


class QueuePopulatorLoop(BaseLoop):
    """Leader only: queue one selfplay job per run, from the scheduler's choice."""

    def __init__(
        self,
        get_role: Callable[[], str],
        get_selfplay_scheduler: Callable[[], SelfplayScheduler],
        notifier: Notifier | None = None,
        config_path: Path | None = None,
        interval: float = 60.0,
    ) -> None:
        super().__init__(name="queue_populator", interval=interval)
        self._get_role = get_role
        self._get_selfplay_scheduler = get_selfplay_scheduler
        self._notifier = notifier
        self.config_path = config_path or Path("config/unified_loop.yaml")

    async def _run_once(self) -> None:
        if self._get_role() != "leader":
            return
        scheduler = self._get_selfplay_scheduler()
        config = scheduler.next_config()
        scheduler.queued.append(config)
        scheduler.populated.set()
        if self._notifier is not None:
            self._notifier.notify(f"queued {config}")


class StandInLoop(BaseLoop):
    """Any other of the seed's loops (EloSyncLoop, JobReaperLoop...): counts its runs."""

    def __init__(self, name: str, interval: float = 60.0) -> None:
        super().__init__(name=name, interval=interval)
        self.ran = asyncio.Event()

    async def _run_once(self) -> None:
        self.ran.set()
