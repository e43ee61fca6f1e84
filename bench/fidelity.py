"""Issue 16: how much of each real module's public behaviour treadle.compat matches.

Run: ``python -m bench fidelity``.

A behaviour is one scenario of ``tests/compat/`` (each pins one behaviour of the real
module, its expected value read from that module's code) or one row of a "Differences
from the real module" table in ``docs/seeds.md`` (a behaviour treadle does not match, on
purpose, with its reason). The share printed is scenarios that pass over both. Before
issue 16, measured from outside: p2p about 56%, task_monitor about 60%, loom about 20%.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from ._util import row

ROOT = Path(__file__).resolve().parents[1]
SEEDS = {  # module: (its tests, its section of docs/seeds.md, the share before issue 16)
    "p2p (RingRift loops/base.py)": (
        ["test_p2p.py", "test_p2p_loop.py", "test_p2p_manager.py"],
        "## 004",
        0.56,
    ),
    "task_monitor (ag task_monitor.py, io.py)": (
        ["test_task_monitor.py"],
        "## 003",
        0.60,
    ),
    "loom (loom-py loom.runtime, loom.cli)": (
        ["test_loom.py", "test_loom_runtime.py"],
        "## 002",
        0.20,
    ),
}


def _scenarios(files: list[str]) -> tuple[int, int]:
    """(passed, run) of the seed's compat tests, run now."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        argv += [f"--junitxml={report}", *(f"tests/compat/{f}" for f in files)]
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        suite = ET.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite[0]
        run = int(suite.get("tests", 0)) - int(suite.get("skipped", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        return run - bad, run


def _differences(heading: str) -> int:
    """Rows of the differences table in the seed's section of docs/seeds.md."""
    text = (ROOT / "docs" / "seeds.md").read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    table = section[section.index("Differences from the real module") :]
    rows = re.findall(r"^\|(?!\s*-)(?!\s*behaviour\s*\|).*\|\s*$", table, flags=re.MULTILINE)
    return len(rows)


def main() -> None:
    row("", "scenarios", "kept different", "matched (before)")
    for name, (files, heading, before) in SEEDS.items():
        passed, run = _scenarios(files)
        differ = _differences(heading)
        share = passed / (run + differ) if run + differ else 0.0
        row(name, f"{passed}/{run} pass", f"{differ}", f"{share:.0%} ({before:.0%})")
    print("  a difference is kept on purpose (a bug of the real module, or treadle's")
    print("  guarantees): each has its reason in docs/seeds.md")


if __name__ == "__main__":
    main()
