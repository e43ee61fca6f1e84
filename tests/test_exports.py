"""The public face stays honest: everything exported exists, nothing private leaks, and
every package's ``__all__`` matches what it re-exports."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import treadle

PACKAGES = sorted(m.name for m in pkgutil.iter_modules(treadle.__path__, "treadle.") if m.ispkg)


def test_top_level_all_is_complete_and_public() -> None:
    assert sorted(treadle.__all__) == treadle.__all__
    for name in treadle.__all__:
        assert not name.startswith("_")
        assert hasattr(treadle, name), name
    public = {n for n in vars(treadle) if not n.startswith("_")}
    modules = {n for n in public if isinstance(getattr(treadle, n), types.ModuleType)}
    assert public - modules == set(treadle.__all__) - {"loop"}


def test_treadle_loop_is_the_subpackage_and_the_decorator() -> None:
    @treadle.loop(interval=0.5)
    async def tick() -> None:
        pass

    assert isinstance(tick, treadle.FunctionLoop)
    assert tick.interval == 0.5
    assert sys.modules["treadle.loop"].Loop is treadle.Loop


def test_import_treadle_does_not_import_asyncio() -> None:
    code = "import sys, treadle; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


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
