"""Seed 004's custom-loop example, the smallest stand-ins for what its other examples refer
to (its orchestrator and its own loops: QueuePopulatorLoop, ...), written as the custom-loop
example shows, and the loops the tests drive."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


# -- for the tests --------------------------------------------------------------------------

README_KEYS = {
    "name",
    "running",
    "paused",
    "enabled",
    "interval",
    "run_count",
    "error_count",
    "consecutive_errors",
    "average_duration_ms",
    "last_run_time",
    "last_error",
}
MODULE_KEYS = {"name", "status", "running", "enabled", "interval", "stats", "backoff"}
STATUS_KEYS = README_KEYS | MODULE_KEYS  # get_status(): the README's keys and the module's


# -- loops for the tests ---------------------------------------------------------------------


class Scripted(BaseLoop):
    """Runs ``script``: each entry an exception to raise, or None for a success. With
    ``hang``, each run waits for ``release`` first; ``pause_at``: the run that pauses."""

    def __init__(self, script: list[Exception | None] | None = None, **kw: Any) -> None:
        kw.setdefault("interval", 0.0)
        kw.setdefault("backoff_config", FAST)
        super().__init__(kw.pop("name", "scripted"), **kw)
        self.script = list(script or [])
        self.events: list[str] = []
        self.runs = asyncio.Queue[int]()
        self.calls = 0
        self.release = asyncio.Event()
        self.hang = False
        self.pause_at: int | None = None

    async def _run_once(self) -> None:
        self.calls += 1
        await self.runs.put(self.calls)
        if self.calls == self.pause_at:
            self.pause()  # this run finishes, then the loop idles
        if self.hang:
            await self.release.wait()
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step

    async def _on_start(self) -> None:
        self.events.append("start")

    async def _on_stop(self) -> None:
        self.events.append("stop")

    async def _on_error(self, error: Exception) -> None:
        self.events.append(f"error {error}")


FAST = BackoffConfig(initial_delay=0.001, max_delay=0.002, multiplier=2.0, jitter=0.0)
SLOW = BackoffConfig(initial_delay=0.02, max_delay=0.02, multiplier=2.0, jitter=0.0)
PATIENT = BackoffConfig(initial_delay=30.0, max_delay=30.0, jitter=0.0)


async def runs(loop: Scripted, n: int) -> None:
    """Wait until ``loop`` has begun its n-th run (each run puts its number)."""
    while loop.calls < n:
        await loop.runs.get()


async def ran(loop: BaseLoop, n: int) -> None:
    """Wait until ``loop`` has finished n runs (its stats say so): the lifecycle gives no
    event for the end of a run, so this lets the event loop turn until it has."""
    while loop.stats.total_runs < n:  # noqa: ASYNC110 - no event marks the end of a run
        await asyncio.sleep(0)


class Ordered(Scripted):
    """Logs its start and stop, into a log shared with its siblings."""

    def __init__(self, name: str, log: list[str], depends_on: list[str] | None = None) -> None:
        super().__init__(name=name, interval=60.0, depends_on=depends_on)
        self.log = log

    async def _on_start(self) -> None:
        await asyncio.sleep(0)  # a start that yields: a dependant must still wait for it
        self.log.append(f"start {self.name}")

    async def _on_stop(self) -> None:
        self.log.append(f"stop {self.name}")


class MetricsRecorder:
    """The seed's MetricsManager, as a BaseLoop calls it."""

    def __init__(self) -> None:
        self.records: list[tuple[str, float, dict[str, Any] | None]] = []
        self.recorded = asyncio.Event()

    def record_metric(
        self, name: str, value: float, metadata: dict[str, Any] | None = None
    ) -> None:
        self.records.append((name, value, metadata))
        self.recorded.set()
