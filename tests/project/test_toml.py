"""load_toml: any TOML file read with treadle.toml's rules and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from treadle import ConfigError
from treadle.project import load_toml


class Server(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    port: int = 80


class File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    servers: dict[str, Server] = {}


def test_values_are_interpolated_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('[servers.a]\nhost = "${HOST}"\nport = 8080\n')
    loaded = load_toml(path, File, environ={"HOST": "example.org"})
    assert loaded.servers["a"] == Server(host="example.org", port=8080)


def test_expand_replaces_the_interpolation_for_every_string(tmp_path: Path) -> None:
    """A layer with rules of its own (Loom's loom.toml) rewrites each string itself: an
    unset ${VAR} is then no error, and nested tables and lists are rewritten too."""
    path = tmp_path / "app.toml"
    path.write_text('[servers.a]\nhost = "${NOPE}"\n[servers.b]\nhost = "b"\n')
    loaded = load_toml(path, File, environ={}, expand=str.upper)
    assert loaded.servers["a"].host == "${NOPE}"
    assert loaded.servers["b"].host == "B"


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ('[servers.a]\nhost = "h"\nprot = 1\n', "servers.a.prot", 3),
        ('[servers.a]\nhost = "h"\nport = "x"\n', "servers.a.port", 3),
        ('[servers.a]\nhost = "${NOPE}"\n', "servers.a.host", 2),
        ("[servers.a\n", "syntax", 1),
    ],
)
def test_errors_name_the_file_the_line_and_the_field(
    tmp_path: Path, text: str, field: str, line: int
) -> None:
    path = tmp_path / "app.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_toml(path, File, environ={})
    assert caught.value.field == field
    assert caught.value.file == str(path)
    assert caught.value.line == line
