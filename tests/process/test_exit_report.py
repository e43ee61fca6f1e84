"""A process that fails is reported by what it wrote last (its stderr, else its stdout),
not by treadle's own ``raise ProcessExited`` frame: that is what a person needs to see."""

from __future__ import annotations

from treadle import ProcessSpec, Restart, State, Transition
from treadle.supervisor import ChildSpec, Supervisor

from ..supervisor._support import FAST, wait_state


async def _fails(script: str, **options: object) -> tuple[dict[str, object], str | None]:
    spec = ProcessSpec(argv=["sh", "-c", script], name="p", **options)  # type: ignore[arg-type]
    sup = Supervisor([ChildSpec(spec, restart=Restart.TEMPORARY, backoff=FAST)], name="t")
    with sup.events() as events:
        async with sup:
            await wait_state(sup, "p", State.FAILED)
            error = sup.status()["children"]["p"]["last_exit"]["error"]
        failed = [
            m.payload.error
            for m in iter(events.get_nowait, None)
            if isinstance(m.payload, Transition) and m.payload.to is State.FAILED
        ]
    return error, failed[0]


async def test_the_tail_of_its_stderr_is_its_report() -> None:
    script = "echo starting; for i in $(seq 30); do echo line $i >&2; done; exit 3"
    error, event = await _fails(script)
    report = str(error["traceback"])
    assert report.startswith("process 'p' exit 3; the last lines it wrote:\n")
    assert report.endswith("line 29\nline 30\n")
    assert "line 10\n" not in report  # the last 20
    assert "starting" not in report  # stderr, when it wrote any
    assert "raise ProcessExited" not in report
    assert event == report  # the lifecycle event (the dashboard's traceback) says the same


async def test_without_stderr_its_stdout_speaks_and_silence_is_said() -> None:
    error, _ = await _fails("echo only this; exit 4")
    assert error["traceback"] == "process 'p' exit 4; the last lines it wrote:\nonly this\n"
    error, _ = await _fails("exit 5")
    assert error["traceback"] == "process 'p' exit 5; it wrote nothing\n"
    error, _ = await _fails("echo kept nowhere; exit 6", ring_lines=0)
    assert error["traceback"] == "process 'p' exit 6\n"
