"""``python -m treadle.manager``: run one manager until SIGTERM, STOP or its idle timeout.

Started in the background by a client that waits for it (``--ready-fd``: the cold start
of ``treadle run``, :mod:`treadle._autostart`), it sends its output to its own log
(``managers/manager-{tid}.log`` beside the broker, as :meth:`treadle.client.Client.launch`
does) and writes its TID on that pipe once it is registered and takes work. Started by
systemd (``Type=notify``), it says so through ``$NOTIFY_SOCKET`` (see ``_sdnotify``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from ..broker import Broker, resolve
from ..supervisor import run
from . import _registry
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
    parser.add_argument(
        "--ready-fd",
        type=int,
        default=None,
        help="a pipe to the client that started it: its TID is written there once it is up "
        "(or 'alive' with --unless-alive); its output goes to its log file",
    )
    parser.add_argument(
        "--unless-alive", action="store_true", help="leave at once if a manager is alive"
    )
    parser.add_argument("--workers", type=int, default=None, help="warm workers (cores)")
    parser.add_argument("--max-tasks-per-worker", type=int, default=None)
    parser.add_argument("--max-memory-per-worker", type=int, default=None, help="bytes")
    args = parser.parse_args(argv)
    if args.ready_fd is not None:
        os.set_inheritable(args.ready_fd, False)  # its spawner and tasks must not hold it
    url = resolve(args.broker)
    log = _own_log(url.state_dir) if args.ready_fd is not None else None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.unless_alive:
        with Broker(url) as broker:
            if _registry.alive(broker):
                _announce(args.ready_fd, "alive")
                if log is not None:
                    os.unlink(log)  # nothing happened worth keeping
                return 0
    manager = Manager(
        url,
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

    def up() -> None:
        if log is not None:  # now that its TID is known, the log has its usual name
            with contextlib.suppress(OSError):
                os.rename(log, _registry.log_path(url.state_dir, manager.tid))
        _announce(args.ready_fd, str(manager.tid))

    code = run(manager, started=up)
    if manager.fenced:  # its broker thread may be stuck on a database out of reach
        logging.shutdown()
        os._exit(code)
    return code


def _own_log(state_dir: os.PathLike[str]) -> str:
    """Send stdout and stderr to a new log file, named by this process until the
    manager's TID is minted (a manager that fails before that leaves it so)."""
    path = str(_registry.log_path(state_dir, f"starting-{os.getpid()}"))
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return path


def _announce(fd: int | None, line: str) -> None:
    """Tell the client that waits on ``fd`` (once); it may have gone (Ctrl-C)."""
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, line.encode() + b"\n")
    with contextlib.suppress(OSError):
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
