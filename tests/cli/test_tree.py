"""How status rows fit a terminal: what gives way, and what never does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from treadle.cli._tree import COLUMNS, fit

WEB = (
    "web",
    "process",
    "running",
    "123456",
    "3.2m",
    "0",
    "unhealthy: GET http://127.0.0.1:8741/health: connection refused (3 in a row)",
    "0%",
    "12.3MiB",
    "",
)
LOOP = ("prices", "loop", "backoff", "", "", "12", "degraded: 4 errors", "", "", "Oops: " * 20)


def width(columns: tuple[str, ...], rows: list[tuple[str, ...]], gap: int) -> int:
    return sum(
        max(cell_len(c), *(cell_len(r[i]) for r in rows)) for i, c in enumerate(columns)
    ) + gap * (len(columns) - 1)


def test_piped_nothing_is_cut() -> None:
    table = fit(COLUMNS, [WEB, LOOP], None)
    assert (table.columns, table.rows, table.gap) == (COLUMNS, [WEB, LOOP], 2)


def test_at_80_columns_health_gives_way_and_state_pid_uptime_stay_whole() -> None:
    table = fit(COLUMNS, [WEB, LOOP], 80)
    assert width(table.columns, table.rows, table.gap) <= 80
    web = dict(zip(table.columns, table.rows[0], strict=True))
    assert (web["NAME"], web["STATE"], web["PID"], web["UPTIME"]) == (
        "web",
        "running",
        "123456",
        "3.2m",
    )
    assert web["HEALTH"] == "unheal…"
    assert "KIND" in table.columns


def test_a_roomier_terminal_cuts_less() -> None:
    table = fit(COLUMNS, [WEB, LOOP], 120)
    assert width(table.columns, table.rows, table.gap) <= 120
    web = dict(zip(table.columns, table.rows[0], strict=True))
    assert web["HEALTH"].startswith("unhealthy: GET http")
    assert table.gap == 2


@given(st.integers(min_value=40, max_value=300))
def test_name_state_pid_and_uptime_are_never_cut(columns: int) -> None:
    table = fit(COLUMNS, [WEB, LOOP], columns)
    for row in table.rows:
        cells = dict(zip(table.columns, row, strict=True))
        assert "…" not in cells["NAME"] + cells["STATE"] + cells["PID"] + cells["UPTIME"]
