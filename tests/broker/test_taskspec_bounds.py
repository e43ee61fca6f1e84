"""TaskSpec is the one gate for a task's numbers: whatever it accepts, the runtime takes.

Checked over generated specs with hypothesis (NaN, infinities, huge and negative numbers,
strings that pydantic would coerce): a spec that validates builds its runner's backoff, its
process spec and its child spec, and a real process takes its CPU limit from prlimit.
"""

from __future__ import annotations

import math
import resource
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from treadle import Backoff
from treadle._backoff import Jitter
from treadle.broker import TaskSpec
from treadle.broker._taskspec import (
    MAX_CPU,
    MAX_MEMORY,
    MAX_RETRIES,
    MAX_RETRY_DELAY,
    MAX_STOP_TIMEOUT,
    MAX_TIMEOUT,
)
from treadle.process import ProcessSpec
from treadle.supervisor import ChildSpec

numbers = st.one_of(
    st.floats(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=2**33),
    st.sampled_from([MAX_CPU, MAX_CPU + 1, MAX_MEMORY, MAX_MEMORY + 1, 2**63 - 1, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["inf", "-inf", "nan", "1e400", "12", "0"]),
)
texts = st.text(alphabet=st.sampled_from("ab=\0/ "), max_size=4)
fields = st.fixed_dictionaries(
    {
        "tid": st.integers(min_value=-1, max_value=2**65),
        "argv": st.lists(texts, min_size=1, max_size=2),
    },
    optional={
        "retry_delay": numbers,
        "stop_timeout": numbers,
        "retries": numbers,
        "limits": st.fixed_dictionaries(
            {}, optional={"timeout": numbers, "cpu": numbers, "memory": numbers}
        ),
        "env": st.dictionaries(texts, texts, max_size=2),
        "cwd": texts,
    },
)


@contextmanager
def _child() -> Iterator[subprocess.Popen[bytes]]:
    """A fresh process to set a CPU limit on, one per generated example: prlimit of our own
    process would stick, and a lowered hard limit cannot be raised again without
    CAP_SYS_RESOURCE (CI does not run as root)."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@settings(max_examples=400, deadline=None)
@given(fields)
@example(
    {
        "tid": 2**63 - 1,
        "argv": ["true"],
        "retry_delay": MAX_RETRY_DELAY,
        "stop_timeout": MAX_STOP_TIMEOUT,
        "retries": MAX_RETRIES,
        "limits": {"timeout": MAX_TIMEOUT, "cpu": MAX_CPU, "memory": MAX_MEMORY},
    }
)
def test_a_spec_that_validates_is_launchable(raw: dict[str, Any]) -> None:
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError:
        return
    for value in (spec.retry_delay, spec.stop_timeout, spec.limits.timeout or 0.0):
        assert math.isfinite(value)
    Backoff(initial=spec.retry_delay, max=MAX_RETRY_DELAY, jitter=Jitter.EQUAL).delay(
        spec.retries + 1
    )
    pspec = ProcessSpec(
        argv=spec.argv or (),
        name="T1",
        env=spec.env,
        cwd=spec.cwd,
        stop_timeout=spec.stop_timeout,
        memory_limit=spec.limits.memory,
        cpu_limit=spec.limits.cpu,
    )
    ChildSpec(pspec, name="T1", shutdown_timeout=spec.stop_timeout + 2.0)
    for arg in spec.argv or ():
        arg.encode()  # what execve gets: no NUL (it would raise ValueError there)
        assert "\0" not in arg
    for key, text in spec.env.items():
        assert key
        assert "=" not in key
        assert "\0" not in key + text
    if spec.limits.cpu is not None:
        cpu = spec.limits.cpu
        with _child() as child:
            resource.prlimit(child.pid, resource.RLIMIT_CPU, (cpu, cpu + 5))
