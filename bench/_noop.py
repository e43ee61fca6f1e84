"""The no-op function task of bench/throughput.py (the standard library only)."""


def noop() -> int:
    return 1
