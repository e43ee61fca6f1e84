"""The seeds' own interfaces, as thin layers over treadle's core, for code written to them.

``treadle.compat.p2p`` (BaseLoop, LoopManager...), ``treadle.compat.task_monitor``
(TaskMonitor, io_semaphore...), ``treadle.compat.loom`` (run_orchestrator, get_binary...).
Import the module you need; this package itself exports nothing.
"""

__all__: list[str] = []
