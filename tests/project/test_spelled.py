"""Values in errors are quoted as TOML spells them: what is printed reads back as itself."""

from __future__ import annotations

import math
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle.project._spelled import spelled

_TEXT = st.text(st.characters(exclude_categories=["Cs"]))  # TOML holds no lone surrogate
_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    _TEXT,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(_VALUES)
def test_what_is_spelled_reads_back_as_the_same_value(value: object) -> None:
    assert tomllib.loads(f"x = {spelled(value)}")["x"] == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        ("yes", '"yes"'),
        ("it's", '"it\'s"'),
        (1.5, "1.5"),
        (math.inf, "inf"),
        (math.nan, "nan"),
        (["a", 1], '["a", 1]'),
        ({"a b": 1, "c": [True]}, '{ "a b" = 1, c = [true] }'),
        ({}, "{}"),
        (None, "nothing"),
    ],
)
def test_values_are_spelled_as_toml_writes_them(value: object, text: str) -> None:
    assert spelled(value) == text
