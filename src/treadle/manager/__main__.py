"""``python -m treadle.manager``: run one manager until SIGTERM, STOP or its idle timeout."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..supervisor import run
from ._manager import Manager


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m treadle.manager")
    parser.add_argument("--broker", default=None, help="path or URL (default $TREADLE_BROKER)")
    parser.add_argument("--tid", type=int, default=None, help="this manager's TID")
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--max-tasks", type=int, default=32)
    parser.add_argument("--heartbeat", type=float, default=2.0)
    parser.add_argument("--capability", action="append", default=[])
    parser.add_argument("--lease", type=float, default=None, help="seconds (3 heartbeats)")
    parser.add_argument("--no-lead", action="store_true", help="never be the fleet's leader")
    parser.add_argument("--output-limit", type=int, default=4 * 1024 * 1024, help="bytes a task")
    parser.add_argument("--line-limit", type=int, default=64 * 1024, help="bytes a line")
    parser.add_argument("--workers", type=int, default=None, help="warm workers (cores)")
    parser.add_argument("--max-tasks-per-worker", type=int, default=None)
    parser.add_argument("--max-memory-per-worker", type=int, default=None, help="bytes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    manager = Manager(
        args.broker,
        tid=args.tid,
        idle_timeout=args.idle_timeout,
        capabilities=args.capability,
        max_tasks=args.max_tasks,
        heartbeat=args.heartbeat,
        lease=args.lease,
        lead=not args.no_lead,
        output_limit=args.output_limit,
        line_limit=args.line_limit,
        workers=args.workers,
        max_tasks_per_worker=args.max_tasks_per_worker,
        max_memory_per_worker=args.max_memory_per_worker,
    )
    code = run(manager)
    if manager.fenced:  # its broker thread may be stuck on a database out of reach
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
