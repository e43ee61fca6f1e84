"""Artifact: its rules (each a ConfigError naming the field), its URL, its cache name; and
platform_tag()."""

from __future__ import annotations

import os
import re

import pytest

from treadle import ConfigError
from treadle.artifacts import Artifact, platform_tag

DIGEST = "ab" * 32


def test_platform_tag_is_os_and_arch() -> None:
    tag = platform_tag()
    assert re.fullmatch(r"[a-z0-9_]+-[a-z0-9_]+", tag)
    assert tag.split("-")[0] == os.uname().sysname.lower()
    if os.uname().machine == "x86_64":
        assert tag == f"{os.uname().sysname.lower()}-x86_64"


def test_the_url_template_and_the_cache_name() -> None:
    a = Artifact(
        "loom-bridge",
        "v0.1.0-alpha.1",
        url="https://example.org/{version}/{name}-{os}-{arch}?p={platform}",
        sha256={"linux-x86_64": DIGEST.upper()},
    )
    assert a.url_for("linux-x86_64") == (
        "https://example.org/v0.1.0-alpha.1/loom-bridge-linux-x86_64?p=linux-x86_64"
    )
    assert a.cache_name("linux-x86_64") == "loom-bridge-v0.1.0-alpha.1-linux-x86_64"
    assert a.digest("linux-x86_64") == DIGEST  # kept in lower case
    assert a.digest("darwin-aarch64") is None
    assert Artifact("x", "1").url_for() is None
    assert a.describe("linux-x86_64") == "loom-bridge v0.1.0-alpha.1 (linux-x86_64)"


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"name": "../evil"}, "name", "cannot be part of a file name"),
        ({"version": "1/2"}, "version", "cannot be part of a file name"),
        ({"version": ".hidden"}, "version", "cannot be part of a file name"),
        ({"url": "ftp://x/{name}"}, "url", "must be an http://, https:// or file:// URL"),
        ({"url": "https://x/{nmae}"}, "url", "unknown placeholder {nmae}"),
        ({"url": "https://x/{name!r}"}, "url", "unknown placeholder {name}"),
        ({"url": "https://x/{name"}, "url", "not a URL template"),
        ({"sha256": {"linux": DIGEST}}, "sha256.linux", "is not a platform"),
        ({"sha256": {"linux-x86_64": "abc"}}, "sha256.linux-x86_64", "64 hexadecimal digits"),
        ({"executable": "bin/x"}, "executable", "must be a file name"),
        ({"build_dirs": ("",)}, "build_dirs", "must not be empty"),
    ],
)
def test_each_rule_names_its_field(kwargs: dict[str, object], field: str, message: str) -> None:
    args: dict[str, object] = {"name": "loom-bridge", "version": "v1", **kwargs}
    with pytest.raises(ConfigError) as caught:
        Artifact(**args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert message in caught.value.message
