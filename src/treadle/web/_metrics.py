"""``GET /metrics``: the project in Prometheus' text format (prometheus-client).

Owns the metric names and how each is read off the live tree at scrape time: child
states, restarts, loop runs and errors, run durations, heartbeat ages, process memory and
CPU, limiters, queue depths. Nothing is counted on the hot path: a loop's run-duration
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

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from .._lifecycle import State
from ..loop import Loop
from ..supervisor import Supervisor

__all__ = ["BUCKETS", "Metrics"]

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

    def render(self, queues: Mapping[str, int], tasks: int) -> bytes:
        """The text exposition, with queue depths and the running task count given (they
        come from the broker, which a collector must not wait on)."""
        self._extra = {"queues": queues, "tasks": tasks}
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "treadle_child_state", "1 for the state the child is in", labels=["child", "state"]
        )
        restarts = CounterMetricFamily(
            "treadle_child_restarts", "restarts by the supervisor", labels=["child"]
        )
        heartbeat = GaugeMetricFamily(
            "treadle_child_heartbeat_age_seconds", "since the last heartbeat", labels=["child"]
        )
        runs = CounterMetricFamily("treadle_loop_runs", "loop runs", labels=["child"])
        errors = CounterMetricFamily("treadle_loop_errors", "failed loop runs", labels=["child"])
        durations = HistogramMetricFamily(
            "treadle_loop_run_duration_seconds", "loop run durations (sampled)", labels=["child"]
        )
        rss = GaugeMetricFamily("treadle_process_resident_bytes", "RSS", labels=["child"])
        cpu = GaugeMetricFamily("treadle_process_cpu_percent", "CPU %", labels=["child"])
        for name, child, target in _walk(self._tree.status(), self._tree, ""):
            for s in STATES:
                state.add_metric([name, s], 1.0 if child.get("state") == s else 0.0)
            restarts.add_metric([name], float(child.get("restarts") or 0))
            info = child.get("target") or {}
            if info.get("heartbeat_age_s") is not None:
                heartbeat.add_metric([name], float(info["heartbeat_age_s"]))
            if isinstance(target, Loop):
                runs.add_metric([name], float(target.metrics.runs))
                errors.add_metric([name], float(target.metrics.errors))
                buckets, total = self._sample(name, target)
                durations.add_metric([name], buckets, total)
            if info.get("rss_bytes") is not None:
                rss.add_metric([name], float(info["rss_bytes"]))
            if info.get("cpu_percent") is not None:
                cpu.add_metric([name], float(info["cpu_percent"]))
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
        capacity = GaugeMetricFamily("treadle_limiter_capacity", "permits", labels=labels)
        in_use = GaugeMetricFamily("treadle_limiter_in_use", "permits held", labels=labels)
        waiting = GaugeMetricFamily("treadle_limiter_waiting", "waiters", labels=labels)
        waited = CounterMetricFamily("treadle_limiter_wait_seconds", "time waited", labels=labels)
        for name, stats in self._tree.limits.stats().items():
            capacity.add_metric([name], float(stats["capacity"]))
            in_use.add_metric([name], float(stats["in_use"]))
            waiting.add_metric([name], float(stats["waiting"]))
            waited.add_metric([name], float(stats["total_wait_s"]))
        yield from (capacity, in_use, waiting, waited)

    def _broker(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "treadle_queue_pending", "messages waiting in a broker queue", labels=["queue"]
        )
        for queue, pending in self._extra.get("queues", {}).items():
            depth.add_metric([queue], float(pending))
        tasks = GaugeMetricFamily("treadle_manager_tasks", "tasks its manager runs")
        tasks.add_metric([], float(self._extra.get("tasks", 0)))
        yield from (depth, tasks)


def _walk(
    status: Mapping[str, Any], sup: Supervisor, prefix: str
) -> Iterator[tuple[str, Mapping[str, Any], object]]:
    """Each child's dotted name, status and live target, nested supervisors' children too."""
    for name, child in (status.get("children") or {}).items():
        target = sup.target(name)
        yield prefix + name, child, target
        if isinstance(target, Supervisor):
            yield from _walk(child.get("target") or {}, target, f"{prefix}{name}.")
