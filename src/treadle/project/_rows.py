"""A project's status as rows: what ``treadle status``, ``top`` and the dashboard show.

Owns flattening the nested status (supervisors, pools, processes, loops) into one row per
child, with what people look at first: state, pid, uptime, restarts, health, CPU, memory,
the last error and, for loops, their runs and durations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from pydantic import ConfigDict

__all__ = ["Row", "rows"]


@dataclass
class Row:
    """One child of the project's tree (a pool's members one by one, nested supervisors'
    children under a dotted name), as status, top and the dashboard's /api/status show it."""

    # The dashboard's response model reads this dataclass: every field required, no other.
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    name: str
    kind: str
    state: str
    pid: int | None
    uptime_s: float | None
    restarts: int
    health: str
    health_reason: str
    cpu_percent: float | None
    rss_bytes: int | None
    last_error: str
    last_traceback: str | None
    runs: int | None  # a loop's runs so far (``top`` derives rates from it)
    errors: int | None
    duration_p50_ms: float | None
    duration_p95_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rows(project: Mapping[str, Any]) -> list[Row]:
    """One row per child of a project status (as the manager's STATUS answers it),
    operator-stopped children included."""
    tree = project.get("tree") or {}
    out = list(_walk(tree.get("children") or {}, ""))
    seen = {row.name for row in out}
    for name in project.get("stopped") or []:  # in the tree now; an older manager's are not
        if name not in seen:
            kind = (project.get("children") or {}).get(name, "")
            out.append(_stopped(name, kind))
    return out


def _stopped(name: str, kind: str) -> Row:
    """A child the operator stopped: in the file, not in the tree."""
    return Row(
        name=name,
        kind=kind,
        state="stopped",
        pid=None,
        uptime_s=None,
        restarts=0,
        health="",
        health_reason="",
        cpu_percent=None,
        rss_bytes=None,
        last_error="",
        last_traceback=None,
        runs=None,
        errors=None,
        duration_p50_ms=None,
        duration_p95_ms=None,
    )


def _walk(children: Mapping[str, Any], prefix: str) -> Iterator[Row]:
    for name, child in children.items():
        target = child.get("target") or {}
        kind = str(target.get("kind") or "coroutine")
        health = child.get("health") or {}
        yield Row(
            name=prefix + name,
            kind=kind,
            state=str(child.get("state", "")),
            pid=target.get("pid"),
            uptime_s=child.get("uptime_s"),
            restarts=int(child.get("restarts") or 0),
            health=str(health.get("status", "")),
            health_reason=str(health.get("reason", "")),
            cpu_percent=target.get("cpu_percent"),
            rss_bytes=target.get("rss_bytes"),
            last_error=_last_error(child, target),
            runs=target.get("runs"),
            errors=target.get("errors"),
            last_traceback=_traceback(child, target),
            duration_p50_ms=(target.get("duration") or {}).get("p50_ms"),
            duration_p95_ms=(target.get("duration") or {}).get("p95_ms"),
        )
        if kind == "supervisor":
            yield from _walk(target.get("children") or {}, f"{prefix}{name}.")


def _error(child: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
    """A loop's last run error, else the error the child last ended with (or None)."""
    error = target.get("last_error")
    if not error:
        last = child.get("last_exit")
        if isinstance(last, Mapping) and last.get("kind") != "normal":
            error = last.get("error") or last.get("kind")
    return error


def _traceback(child: Mapping[str, Any], target: Mapping[str, Any]) -> str | None:
    error = _error(child, target)
    return (
        str(error.get("traceback"))
        if isinstance(error, Mapping) and error.get("traceback")
        else None
    )


def _last_error(child: Mapping[str, Any], target: Mapping[str, Any]) -> str:
    """A loop's last run error, else how the child last ended if not normally."""
    error = _error(child, target)
    if not error:
        return ""
    if isinstance(error, Mapping):
        kind, message = error.get("type"), error.get("message")
        return f"{kind}: {message}" if kind and message else str(message or kind or "")
    return str(error)
