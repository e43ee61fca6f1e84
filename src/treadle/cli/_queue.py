"""``treadle queue list|peek``: the broker's queues, for inspection (read-only)."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape

from ..broker._taskspec import redact_env
from ._app import Exit, broker_option, json_option, session
from ._output import console, emit_json, print_table

__all__ = ["queue"]


@click.group()
def queue() -> None:
    """Look at the broker's queues (nothing is consumed).

    \b
    Examples:
      treadle queue list --prefix treadle.
      treadle queue peek treadle.deadletter
    """


@queue.command(name="list")
@click.option("--prefix", help="Only queues whose names start with this.")
@json_option
@broker_option
def list_(prefix: str | None, as_json: bool, broker: str | None) -> int:
    """Every queue with its pending, claimed and total message counts.

    \b
    Examples:
      treadle queue list
      treadle queue list --prefix T1796 --json
    """
    stats = session(broker, as_json).client.broker.stats(prefix)
    if as_json:
        emit_json(
            [
                {"queue": s.queue, "pending": s.pending, "claimed": s.claimed, "total": s.total}
                for s in stats
            ]
        )
        return Exit.OK
    print_table(
        ("QUEUE", "PENDING", "CLAIMED", "TOTAL"),
        ((s.queue, s.pending, s.claimed, s.total) for s in stats),
        title="queues",
    )
    return Exit.OK


@queue.command()
@click.argument("name")
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@json_option
@broker_option
def peek(name: str, limit: int, as_json: bool, broker: str | None) -> int:
    """The oldest messages of queue NAME, left in place (secrets in env redacted).

    \b
    Examples:
      treadle queue peek treadle.spawn.requests -n 5
      treadle queue peek treadle.deadletter --json
    """
    got = session(broker, as_json).client.broker.peek(name, _redacted, limit=limit)
    if as_json:
        emit_json([{"id": str(mid), "message": message} for message, mid in got])
        return Exit.OK
    for message, mid in got:
        text = message if isinstance(message, str) else json.dumps(message)
        console.print(f"[dim]{mid}[/] {escape(text)}", soft_wrap=True)
    return Exit.OK


def _redacted(raw: str) -> Any:
    """Any message as JSON if it is JSON (with an ``env`` redacted), else its text."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(data, dict) and isinstance(data.get("env"), dict):
        data["env"] = redact_env(data["env"])
    return data
