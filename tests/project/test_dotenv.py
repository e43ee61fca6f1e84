"""``.env`` files: the format, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from treadle import ConfigError
from treadle.project._dotenv import parse_dotenv, read_dotenv

from .test_load import error

FILE = Path("/srv/shop/.env")


def test_the_format() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "PLAIN=value",
            "export EXPORTED=yes",
            "  SPACED = around  ",
            "EMPTY=",
            "UNQUOTED=a b # a comment",
            "HASH=a#b",
            "SINGLE='kept \\n as is # too'",
            'DOUBLE="line\\nbreak \\"quoted\\" \\\\ \\t tab"  # after',
            "URL=postgresql://u:p@h/db?x=1",
            "PLAIN=later wins",
        ]
    )
    assert parse_dotenv(text, FILE) == {
        "PLAIN": "later wins",
        "EXPORTED": "yes",
        "SPACED": "around",
        "EMPTY": "",
        "UNQUOTED": "a b",
        "HASH": "a#b",
        "SINGLE": "kept \\n as is # too",
        "DOUBLE": 'line\nbreak "quoted" \\ \t tab',
        "URL": "postgresql://u:p@h/db?x=1",
    }


@pytest.mark.parametrize(
    ("line", "field", "column", "message"),
    [
        ("no equals sign", "env_file", 1, "expected KEY=VALUE"),
        ("  1BAD=x", "env_file", 3, "expected KEY=VALUE"),
        ('OPEN="never closed', "OPEN", 6, "unterminated double-quoted value"),
        ("OPEN='never closed", "OPEN", 6, "unterminated single-quoted value"),
        ('AFTER="x" y', "AFTER", 7, "unexpected text after the closing quote"),
    ],
)
def test_a_malformed_line_names_the_file_and_line(
    line: str, field: str, column: int, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_dotenv(f"OK=1\n\n{line}\n", FILE)
    exc = caught.value
    assert (exc.file, exc.line, exc.column, exc.field) == (str(FILE), 3, column, field)
    assert message in exc.message
    assert "closed" not in exc.message  # a value is never echoed: it may be a secret


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_dotenv(tmp_path / ".env")


def test_loading_reports_a_bad_env_file_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GOOD=1\nexport\n")
    exc = error(tmp_path, '[project]\nname = "x"\n')
    assert (exc.file, exc.line, exc.field) == (str(tmp_path / ".env"), 2, "env_file")
