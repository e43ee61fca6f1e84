"""``treadle top``: (being written)."""

from __future__ import annotations

import click

__all__ = ["top"]


@click.command()
def top() -> int:
    """(being written)"""
    raise click.UsageError("not built yet")
