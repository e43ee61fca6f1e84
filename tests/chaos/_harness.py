"""``python -m tests.chaos._harness SCENARIO --backend sqlite|postgresql``: one scenario in
a process of its own, a subreaper, printing its figures as JSON on its last line.

Owns the process-wide setup a scenario needs (the subreaper, a temp dir as working
directory, ``PYTHONPATH`` so that function tasks import ``tests.chaos._task``, a tmpfs for
the broker where the scenario fills a disk, a time budget enforced by SIGALRM so that the
teardown always runs) and nothing of the scenarios themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from . import _cli, _host, _load, _poison
from ._backends import pg_answers, readonly, tmpfs
from ._counting import Figures
from ._reaper import Reaper
from ._scene import Scene, Skip, scene

__all__ = ["SCENARIOS", "main"]

SCENARIOS: dict[str, Callable[[Scene], None]] = {
    "kill": _load.kill,
    "freeze": _load.freeze,
    "poison": _poison.poison,
    "disk": _host.disk,
    "second-user": _host.second_user,
    "descendants": _host.descendants,
    "tracebacks": _cli.tracebacks,
}
ROOT = Path(__file__).resolve().parents[2]  # the repository: tests.chaos imports from it
_ON_TMPFS = {"disk", "tracebacks"}


class OutOfTime(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise OutOfTime("the scenario ran out of its time budget")


@contextlib.contextmanager
def _broker_dir(name: str, backend: str, root: Path, figures: Figures) -> Iterator[Path]:
    """Where the SQLite file goes: a 32 MiB tmpfs for the scenarios that fill a disk."""
    if name not in _ON_TMPFS or backend != "sqlite":
        yield root
        return
    mount = root / "disk"
    with tmpfs(mount, "32m") as mounted:
        if mounted:
            figures.extra["on_tmpfs"] = 1
        elif name == "disk":
            with readonly(mount) as ro:
                raise Skip("cannot mount a tmpfs" + ("" if ro else " nor a read-only bind"))
        yield mount


def run(name: str, backend: str, seed: int, size: int) -> Figures:
    figures = Figures(name, backend)
    if backend == "postgresql" and not pg_answers():
        figures.skipped = "no PostgreSQL server answers on 127.0.0.1:5432"
        return figures
    root = Path(tempfile.mkdtemp(prefix=f"chaos-{name}-"))
    cwd = os.getcwd()
    os.chdir(root)  # a PostgreSQL broker's managers keep their files in ./.treadle
    try:
        with Reaper() as reaper, _broker_dir(name, backend, root, figures) as where:
            extra = dict(figures.extra)
            with scene(name, backend, root, seed, size, reaper, where) as s:
                s.figures.extra.update(extra)
                figures = s.figures
                try:
                    SCENARIOS[name](s)
                except Exception as exc:  # out of time, say: partial figures, said to be partial
                    if isinstance(exc, Skip):
                        raise
                    figures.notes.append(f"harness error: {type(exc).__name__}: {exc}")
                    figures.extra["harness_error"] = 1
            if os.environ.get("CHAOS_KEEP") and where != root:  # a tmpfs: gone once unmounted
                shutil.copytree(where / "managers", root / "kept", dirs_exist_ok=True)
    except Skip as skip:
        figures.skipped = str(skip)
    finally:
        os.chdir(cwd)
        if not os.environ.get("CHAOS_KEEP"):  # for a post-mortem of the managers' logs
            shutil.rmtree(root, ignore_errors=True)
    figures.extra.pop("on_tmpfs", None)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos._harness")
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--size", type=int, default=1, help="scale of tasks and faults")
    parser.add_argument("--budget", type=int, default=90, help="seconds before teardown")
    args = parser.parse_args(argv)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(args.budget)
    code = 0
    try:
        figures = run(args.scenario, args.backend, args.seed, args.size)
    except Exception as exc:  # the figures say what failed; the caller decides
        traceback.print_exc()
        figures = Figures(args.scenario, args.backend)
        figures.notes.append(f"harness error: {type(exc).__name__}: {exc}")
        code = 1
    finally:
        signal.alarm(0)
    print(figures.to_json(), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
