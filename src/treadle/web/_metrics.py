"""``GET /metrics``: the project in Prometheus' text format (prometheus-client).

Owns the metric names, their help texts and how each is read off the live tree at scrape
time: child states, restarts, loop runs and errors, run durations, heartbeat ages, process
memory and CPU time, limiters, queue depths. It follows Prometheus' conventions: base units
(seconds, bytes), counters for what only grows (``_total``), OpenMetrics when the scraper
asks for it, and no label value that changes when the manager does (its own queues are
named by their role, not by its TID). Nothing is counted on the hot path: a loop's run-duration
histogram is *sampled*: at each scrape the runs since the last one are spread over the
buckets in the proportions of the loop's recent duration window (its last 128 runs), so
the buckets only grow, and their total is the loop's run count.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector

from .._lifecycle import State
from ..loop import Loop
from ..supervisor import Supervisor

__all__ = ["BUCKETS", "Metrics", "queue_label", "wants_openmetrics"]

BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0)
STATES = tuple(s.value for s in State)


@dataclass
class _Sampled:
    runs: int = 0
    counts: list[float] = field(default_factory=lambda: [0.0] * (len(BUCKETS) + 1))
    total: float = 0.0


class Metrics(Collector):
    """A registry of one project's metrics; :meth:`render` answers a scrape."""

    def __init__(self, tree: Supervisor) -> None:
        self._tree = tree
        self._sampled: dict[str, _Sampled] = {}
        self._extra: dict[str, Any] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def render(self, queues: Mapping[str, int], tasks: int, accept: str = "") -> tuple[bytes, str]:
        """The exposition and its content type: OpenMetrics if the scraper's ``Accept``
        asks for it, else Prometheus' text format; with the pending messages by queue
        label (:func:`queue_label`) and the running task count given (they come from the
        broker, which a collector must not wait on)."""
        self._extra = {"queues": queues, "tasks": tasks}
        if wants_openmetrics(accept):
            body: bytes = openmetrics.generate_latest(self.registry)  # type: ignore[no-untyped-call]
            return body, openmetrics.CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def collect(self) -> Iterator[Metric]:
        child = ["child"]
        state = GaugeMetricFamily(
            "treadle_child_state",
            "1 for the lifecycle state a child of the project is in now (pending, starting, "
            "running, paused, stopping, stopped, failed, backoff, given_up), 0 for the others",
            labels=["child", "state"],
        )
        restarts = CounterMetricFamily(
            "treadle_child_restarts",
            "Times its supervisor restarted the child after it ended (by its restart policy), "
            "since the manager started; an operator's restart is not counted",
            labels=child,
        )
        heartbeat = GaugeMetricFamily(
            "treadle_child_heartbeat_age_seconds",
            "Seconds since the child last showed progress (a loop: each run; a coroutine: "
            "treadle.beat()); past its heartbeat_timeout it is stuck and restarted",
            labels=child,
        )
        runs = CounterMetricFamily(
            "treadle_loop_runs", "Runs of the loop's run_once, failed ones included", labels=child
        )
        errors = CounterMetricFamily(
            "treadle_loop_errors", "Runs of the loop's run_once that raised", labels=child
        )
        durations = HistogramMetricFamily(
            "treadle_loop_run_duration_seconds",
            "How long the loop's runs took (sampled at each scrape from its last 128 runs)",
            labels=child,
        )
        rss = GaugeMetricFamily(
            "treadle_process_resident_memory_bytes",
            "Resident memory of a process child and its descendants",
            labels=child,
        )
        cpu = CounterMetricFamily(
            "treadle_process_cpu_seconds",
            "CPU time (user and system) of a process child and its descendants since it last "
            "started; it starts again from 0 when the process is restarted",
            labels=child,
        )
        for name, status, target in _walk(self._tree.status(), self._tree, ""):
            for s in STATES:
                state.add_metric([name, s], 1.0 if status.get("state") == s else 0.0)
            restarts.add_metric([name], float(status.get("restarts") or 0))
            info = status.get("target") or {}
            if info.get("heartbeat_age_s") is not None:
                heartbeat.add_metric([name], float(info["heartbeat_age_s"]))
            if isinstance(target, Loop):
                runs.add_metric([name], float(target.metrics.runs))
                errors.add_metric([name], float(target.metrics.errors))
                buckets, total = self._sample(name, target)
                durations.add_metric([name], buckets, total)
            if info.get("rss_bytes") is not None:
                rss.add_metric([name], float(info["rss_bytes"]))
            if info.get("cpu_seconds") is not None:
                cpu.add_metric([name], float(info["cpu_seconds"]))
        yield from (state, restarts, heartbeat, runs, errors, durations, rss, cpu)
        yield from self._limiters()
        yield from self._broker()

    def _sample(self, name: str, loop: Loop) -> tuple[list[tuple[str, float]], float]:
        sampled = self._sampled.setdefault(name, _Sampled())
        new = loop.metrics.runs - sampled.runs
        window = loop.metrics.durations()
        if new > 0 and window:
            share = new / len(window)
            for seconds in window:
                sampled.counts[bisect.bisect_left(BUCKETS, seconds)] += share
            sampled.total += share * sum(window)
            sampled.runs = loop.metrics.runs
        cumulative, out = 0.0, []
        for bound, count in zip((*BUCKETS, math.inf), sampled.counts, strict=True):
            cumulative += count
            out.append(
                ("+Inf" if bound == math.inf else repr(bound), float(math.floor(cumulative)))
            )
        return out, sampled.total

    def _limiters(self) -> Iterator[Metric]:
        labels = ["limiter"]
        capacity = GaugeMetricFamily(
            "treadle_limiter_capacity", "Permits the named limiter has in all", labels=labels
        )
        in_use = GaugeMetricFamily(
            "treadle_limiter_in_use", "Permits of the limiter held now", labels=labels
        )
        waiting = GaugeMetricFamily(
            "treadle_limiter_waiting", "Acquirers waiting for a permit now", labels=labels
        )
        waited = CounterMetricFamily(
            "treadle_limiter_wait_seconds",
            "Seconds acquirers spent waiting for a permit, all of them together",
            labels=labels,
        )
        for name, stats in self._tree.limits.stats().items():
            capacity.add_metric([name], float(stats["capacity"]))
            in_use.add_metric([name], float(stats["in_use"]))
            waiting.add_metric([name], float(stats["waiting"]))
            waited.add_metric([name], float(stats["total_wait_s"]))
        yield from (capacity, in_use, waiting, waited)

    def _broker(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "treadle_queue_pending",
            "Messages waiting in a broker queue: treadle's shared queues by name "
            "(treadle.spawn.requests: tasks no manager has taken yet), this manager's own "
            "by role (ctrl_in: control requests it has not read; reserved: tasks it has "
            "taken and not ended; events: the dashboard's event history)",
            labels=["queue"],
        )
        for label, count in sorted(self._extra.get("queues", {}).items()):
            depth.add_metric([label], float(count))
        tasks = GaugeMetricFamily(
            "treadle_manager_tasks", "Tasks the manager that runs the project runs now"
        )
        tasks.add_metric([], float(self._extra.get("tasks", 0)))
        yield from (depth, tasks)


def queue_label(queue: str, manager: int) -> str | None:
    """A queue's label: a shared queue's name; one of ``manager``'s own by its role, the
    same whatever its TID (``T123.ctrl_in``: ``ctrl_in``; the replies to control calls,
    ``T123.ctrl_out.9f2c``, all ``ctrl_out``); None for any other queue."""
    if queue.startswith("treadle."):
        return queue
    own = f"T{manager}."
    if queue.startswith(own):
        return queue[len(own) :].split(".", 1)[0]
    return None


def wants_openmetrics(accept: str) -> bool:
    """Whether an ``Accept`` header names OpenMetrics (as Prometheus' scrapes do), at
    any quality above 0."""
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        if kind.lower() == "application/openmetrics-text":
            quality = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
            try:
                if float(quality) > 0:
                    return True
            except ValueError:
                continue
    return False


def _walk(
    status: Mapping[str, Any], sup: Supervisor, prefix: str
) -> Iterator[tuple[str, Mapping[str, Any], object]]:
    """Each child's dotted name, status and live target, nested supervisors' children too."""
    for name, child in (status.get("children") or {}).items():
        target = sup.target(name)
        yield prefix + name, child, target
        if isinstance(target, Supervisor):
            yield from _walk(child.get("target") or {}, target, f"{prefix}{name}.")
