"""ChildSpec validation, and the pure policies behind strategies and dependency levels."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle import ConfigError, DependencyError
from treadle.supervisor import ChildSpec, Restart, Strategy
from treadle.supervisor._policy import affected, levels


async def work() -> None:
    await asyncio.sleep(0)


def test_init_takes_the_fields_in_order_with_their_defaults() -> None:
    # ChildSpec writes its own __init__ (for speed): it must stay the dataclass's.
    params = list(inspect.signature(ChildSpec.__init__).parameters.values())[1:]
    fields = dataclasses.fields(ChildSpec)
    assert [p.name for p in params] == [f.name for f in fields]
    for param, field in zip(params, fields, strict=True):
        expected = (
            inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        )
        assert param.default == expected, field.name


def test_a_spec_is_frozen_and_replace_keeps_the_rest() -> None:
    spec = ChildSpec(work, restart="transient", depends_on=["db"], priority=3)
    assert (spec.restart, spec.depends_on, spec.priority) == (Restart.TRANSIENT, ("db",), 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.priority = 4  # type: ignore[misc]
    other = dataclasses.replace(spec, priority=4)
    assert (other.priority, other.restart, other.depends_on, other.name) == (
        4,
        Restart.TRANSIENT,
        ("db",),
        "work",
    )
    assert other == dataclasses.replace(other)
    assert hash(other) == hash(dataclasses.replace(other))


def test_name_comes_from_the_target() -> None:
    assert ChildSpec(work).name == "work"
    assert ChildSpec(work, name="other").name == "other"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"restart": "sometimes"}, "restart"),
        ({"name": "a[1]"}, "name"),
        ({"depends_on": "db"}, "depends_on"),
        ({"depends_on": ("work",)}, "depends_on"),
        ({"shutdown_timeout": -1}, "shutdown_timeout"),
        ({"heartbeat_timeout": 0}, "heartbeat_timeout"),
        ({"replicas": 0}, "replicas"),
    ],
)
def test_bad_spec_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ChildSpec(work, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_target_must_be_runnable_or_callable() -> None:
    with pytest.raises(ConfigError, match="target"):
        ChildSpec(42, name="x")  # type: ignore[arg-type]


def test_restart_accepts_strings() -> None:
    assert ChildSpec(work, restart="transient").restart is Restart.TRANSIENT


names = st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=1, max_size=12, unique=True)


@given(names, st.data())
def test_affected_by_strategy(order: list[str], data: st.DataObject) -> None:
    failed = data.draw(st.sampled_from(order))
    assert affected(Strategy.ONE_FOR_ONE, failed, order) == [failed]
    assert affected(Strategy.ONE_FOR_ALL, failed, order) == order
    rest = affected(Strategy.REST_FOR_ONE, failed, order)
    assert rest[0] == failed
    assert rest == order[order.index(failed) :]


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    ns = draw(names)
    # an edge only from a later name to an earlier one: acyclic by construction
    return {
        n: draw(st.lists(st.sampled_from(ns[:i]), unique=True)) if i else []
        for i, n in enumerate(ns)
    }


@given(dags())
def test_levels_put_every_dependency_below_its_dependant(graph: dict[str, list[str]]) -> None:
    level = levels(graph)
    assert set(level) == set(graph)
    for name, deps in graph.items():
        for dep in deps:
            assert level[dep] < level[name]
        if not deps:
            assert level[name] == 0


@given(dags(), st.data())
def test_any_back_edge_is_a_cycle(graph: dict[str, list[str]], data: st.DataObject) -> None:
    ns = list(graph)
    if len(ns) < 2:
        return
    i = data.draw(st.integers(min_value=1, max_value=len(ns) - 1))
    # add edges so that ns[0] needs ns[i] and ns[i] (transitively) needs ns[0]
    graph[ns[i]] = [*graph[ns[i]], ns[0]] if ns[0] not in graph[ns[i]] else graph[ns[i]]
    graph[ns[0]] = [ns[i]]
    with pytest.raises(DependencyError, match="cycle"):
        levels(graph)


def test_a_deep_chain_does_not_recurse() -> None:
    graph = {f"n{i}": [f"n{i - 1}"] if i else [] for i in range(5000)}
    assert levels(graph)["n4999"] == 4999
