"""``python -m bench``: every benchmark, each figure beside its baseline."""

from __future__ import annotations

from . import (
    artifacts,
    compat_p2p,
    compat_task_monitor,
    control,
    coordination,
    dashboard,
    fleet,
    foundation,
    processes,
    spawn,
)

print("== foundation (issue 6)")
foundation.main()
print("== coordination (issue 7)")
coordination.main()
print("== process children (issue 8)")
processes.main()
print("== the spawner (issue 14)")
spawn.main()
print("== control plane (issue 2)")
control.main()
print("== dashboard (issue 4)")
dashboard.main()
print("== fleet on PostgreSQL (issue 5)")
fleet.main()
print("== seed interfaces (issue 10)")
compat_p2p.main()
compat_task_monitor.main()
artifacts.main()
