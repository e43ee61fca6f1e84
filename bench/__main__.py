"""``python -m bench``: every benchmark, each figure beside its baseline."""

from __future__ import annotations

from . import control, coordination, dashboard, fleet, foundation, processes

print("== foundation (issue 6)")
foundation.main()
print("== coordination (issue 7)")
coordination.main()
print("== process children (issue 8)")
processes.main()
print("== control plane (issue 2)")
control.main()
print("== dashboard (issue 4)")
dashboard.main()
print("== fleet on PostgreSQL (issue 5)")
fleet.main()
