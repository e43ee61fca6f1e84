"""``python -m bench``: every benchmark, each figure beside its baseline."""

from __future__ import annotations

from . import coordination, foundation, processes

print("== foundation (issue 6)")
foundation.main()
print("== coordination (issue 7)")
coordination.main()
print("== process children (issue 8)")
processes.main()
