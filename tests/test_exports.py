"""The public face stays honest: everything exported exists, nothing private leaks, and
every package's ``__all__`` matches what it re-exports."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import treadle

PACKAGES = sorted(m.name for m in pkgutil.iter_modules(treadle.__path__, "treadle.") if m.ispkg)


def test_top_level_all_is_complete_and_public() -> None:
    assert sorted(treadle.__all__) == treadle.__all__
    for name in treadle.__all__:
        assert not name.startswith("_")
        assert hasattr(treadle, name), name
    public = {n for n in vars(treadle) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(treadle, n)).__name__ == "module"}
    assert public - modules == set(treadle.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_init_only_reexports(package: str) -> None:
    mod = importlib.import_module(package)
    assert hasattr(mod, "__all__"), f"{package} has no __all__"
    for name in mod.__all__:
        obj = getattr(mod, name)
        assert not name.startswith("_")
        if not hasattr(obj, "__qualname__"):
            continue  # a type alias
        origin = getattr(obj, "__module__", "") or ""
        assert origin.startswith(package + "._") or origin.startswith("treadle."), (name, origin)


def test_everything_raised_on_purpose_is_a_treadle_error() -> None:
    for name in treadle.__all__:
        obj = getattr(treadle, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, treadle.TreadleError), name
