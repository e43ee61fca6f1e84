"""``${VAR}`` interpolation: the grammar, its round trip, and how loading applies it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle.project._errors import Invalid
from treadle.project._interpolate import InterpolationError, escape, interpolate, interpolate_tree

from .test_load import error, load, where, write

ENV = {"HOST": "db", "EMPTY": "", "PORT": "5432"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("${HOST}", "db"),
        ("${HOST}:${PORT}", "db:5432"),
        ("${EMPTY}", ""),
        ("${MISSING:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${HOST:-fallback}", "db"),
        ("${MISSING:-}", ""),
        ("${MISSING:-${HOST}}", "db"),
        ("${MISSING:-${ALSO:-deep}}!", "deep!"),
        ("${HOST:-${UNSET}}", "db"),  # an unused default is not expanded
        ("$${HOST}", "${HOST}"),
        ("$$${HOST}", "$db"),
        ("pid $$", "pid $"),
        ("cost: $5, port $PORT", "cost: $5, port $PORT"),
        ("}", "}"),
    ],
)
def test_references(text: str, expected: str) -> None:
    assert interpolate(text, ENV) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${NOPE}", r"\$\{NOPE\} is not set and has no default"),
        ("${}", "must be followed by a variable name"),
        ("${1X}", "must be followed by a variable name"),
        ("${HOST", r"expected '\}' or ':-'"),
        ("${MISSING:-oops", "unterminated"),
    ],
)
def test_bad_references(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message):
        interpolate(text, ENV)


def test_a_value_from_the_environment_is_not_interpolated_again() -> None:
    assert interpolate("${A}", {"A": "${B}"}) == "${B}"


@given(st.text(alphabet="$${}:-AB_x ", max_size=30))
def test_escaping_round_trips(text: str) -> None:
    assert interpolate(escape(text), {}) == text


@given(
    st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True), st.text(max_size=8)),
    st.text(max_size=10),
)
def test_a_reference_is_replaced_by_its_value_verbatim(env: dict[str, str], around: str) -> None:
    for name, value in env.items():
        got = interpolate(escape(around) + "${" + name + "}" + escape(around), env)
        assert got == around + value + around


def test_every_string_in_a_tree_is_interpolated_and_errors_name_the_path() -> None:
    tree = {"a": ["x${HOST}", 3, {"b": "${PORT}"}], "c": True}
    assert interpolate_tree(tree, ENV) == {"a": ["xdb", 3, {"b": "5432"}], "c": True}
    with pytest.raises(Invalid) as caught:
        interpolate_tree({"a": [{"b": "${NOPE}"}]}, ENV)
    assert caught.value.problem.path == ("a", 0, "b")


def test_loading_interpolates_with_the_environment_over_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=7000\nNAME=from-dotenv\nexport ONLY_DOTENV='x y'\n")
    config = load(
        tmp_path,
        """
        [project]
        name = "${NAME}"
        [processes.web]
        command = "serve --port ${PORT} ${ONLY_DOTENV} ${MISSING:-8} $${LITERAL}"
        """,
        environ={"NAME": "from-env"},
    )
    assert config.name == "from-env"
    assert config.processes["web"].argv() == (
        "serve",
        "--port",
        "7000",
        "x",
        "y",
        "8",
        "${LITERAL}",
    )
    # what the environment sets is left to it; the rest of .env reaches the processes
    assert config.dotenv == {"PORT": "7000", "ONLY_DOTENV": "x y"}


def test_an_interpolated_number_is_validated_as_a_number(tmp_path: Path) -> None:
    text = """
        [dashboard]
        port = "${DASH_PORT:-9000}"
        """
    assert load(tmp_path, text).dashboard.port == 9000
    exc = error(tmp_path, text, environ={"DASH_PORT": "x"})
    assert where(exc) == ("treadle.toml", 2, 1, "dashboard.port")
    assert exc.message == 'must be an integer, got "x"'


def test_a_missing_variable_names_the_variable_file_line_and_field(tmp_path: Path) -> None:
    exc = error(
        tmp_path,
        """
        [project]
        name = "shop"

        [processes.web]
        command = ["serve", "--token", "${API_TOKEN}"]
        """,
    )
    assert where(exc) == ("treadle.toml", 5, 32, "processes.web.command[2]")
    assert str(exc) == (
        f"{tmp_path / 'treadle.toml'}:5:32: processes.web.command[2]: ${{API_TOKEN}} is not set "
        "and has no default (set it, or write ${API_TOKEN:-default})"
    )


def test_env_file_is_interpolated_from_the_real_environment_and_must_exist(
    tmp_path: Path,
) -> None:
    write(tmp_path, "STAGE=prod\n", "env/prod.env")
    config = load(
        tmp_path,
        """
        [project]
        env_file = "env/${STAGE:-dev}.env"
        """,
        environ={"STAGE": "prod"},
    )
    assert config.dotenv == {}  # the environment sets STAGE itself
    exc = error(tmp_path, '[project]\nenv_file = "env/${STAGE:-dev}.env"\n')
    assert where(exc) == ("treadle.toml", 2, 1, "project.env_file")
    assert exc.message == f"{tmp_path / 'env' / 'dev.env'} does not exist"
