"""Loop targets: from ``"module:attribute"`` to a factory of fresh :class:`~treadle.Loop`\\ s.

Owns importing user code (with the project's directory on ``sys.path``) and what a loop
target may be: a Loop subclass, built with the table's loop options and ``options`` as
keyword arguments (checked against its ``__init__``, and the ``__init__`` of the classes
it hands ``**kwargs`` on to with ``super()``), or a ``@loop`` function (a
:class:`~treadle.FunctionLoop`), rebuilt for every start from its function and the
table's options. Every failure is a :class:`~treadle.ConfigError` at
``loops.NAME.target`` (or ``.options``) in the file.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from .._backoff import Backoff
from ..loop import FunctionLoop, Loop
from ._config import ProjectConfig
from ._errors import closest
from ._schema import LoopConfig

__all__ = ["import_target", "loop_factory"]


def import_target(config: ProjectConfig, at: tuple[str, ...], target: str) -> object:
    """The object ``target`` names, importing its module with ``config.root`` on sys.path."""
    module_name, _, attribute = target.partition(":")
    _on_path(config.root)
    try:
        obj: object = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if not (module_name == missing or module_name.startswith(missing + ".")):
            raise config.error(at, f"importing {module_name!r} failed: {exc}") from exc
        raise config.error(
            at, f"cannot import {module_name!r}: no module named {missing!r}"
        ) from None
    except Exception as exc:  # a boundary: the user's module ran, and raised this
        raise config.error(
            at, f"importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    where = module_name
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise config.error(
                at, f"{where!r} has no attribute {part!r}", closest(part, names)
            ) from None
        where = f"{where}.{part}" if where != module_name else f"{module_name}:{part}"
    return obj


def _on_path(root: Path) -> None:
    """Put the project's directory first on sys.path (once), as ``python -m`` would."""
    entry = str(root)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def loop_factory(
    config: ProjectConfig,
    name: str,
    loop: LoopConfig,
    leader: Callable[[], bool] | None = None,
) -> Callable[[], Loop]:
    """A zero-argument factory of fresh loops for child ``name`` (a pool gets one each).

    ``leader`` answers whether this process leads the fleet now: a ``leader_only`` loop
    runs only while it does (its ``should_run`` gate).
    """
    at = ("loops", name, "target")
    obj = import_target(config, at, loop.target)
    settings = _settings(loop)
    if loop.leader_only:
        settings["should_run"] = leader or (lambda: True)
    if isinstance(obj, FunctionLoop):
        if loop.options:
            raise config.error(
                ("loops", name, "options"),
                f"{loop.target} is a @loop function: it takes no options",
            )
        return _function_factory(obj, name, settings)
    if isinstance(obj, type) and issubclass(obj, Loop) and obj is not FunctionLoop:
        return _class_factory(config, name, obj, settings, loop.options)
    if isinstance(obj, Loop):
        message = f"{loop.target} is a {type(obj).__name__} instance: name its class instead"
    else:
        kind = "class" if isinstance(obj, type) else type(obj).__name__
        message = f"{loop.target} is a {kind}, not a Loop subclass or a @loop function"
    raise config.error(at, message)


class _Settings(TypedDict, total=False):
    """The Loop options a table may set; an unset one is left to the target."""

    interval: float
    initial_delay: float
    enabled: bool
    max_consecutive_errors: int
    backoff: Backoff
    should_run: Callable[[], bool]


def _settings(loop: LoopConfig) -> _Settings:
    out = _Settings()
    if loop.interval is not None:
        out["interval"] = loop.interval
    if loop.initial_delay is not None:
        out["initial_delay"] = loop.initial_delay
    if loop.enabled is not None:
        out["enabled"] = loop.enabled
    if loop.max_consecutive_errors is not None:
        out["max_consecutive_errors"] = loop.max_consecutive_errors
    if loop.backoff is not None:
        out["backoff"] = loop.backoff.to_backoff()
    return out


def _class_factory(
    config: ProjectConfig,
    name: str,
    cls: type[Loop],
    settings: _Settings,
    options: dict[str, object],
) -> Callable[[], Loop]:
    twice = sorted(settings.keys() & options.keys())
    if twice:
        raise config.error(
            ("loops", name, "options", twice[0]),
            f"{twice[0]!r} is a loop setting: set it in [loops.{name}], not in options",
        )
    kwargs: dict[str, Any] = {**settings, **options}  # for a user's class: any keywords
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no signature to check (a C extension): build to see
        signature = None
    accepted = _keywords(cls)
    unknown = [k for k in options if accepted is not None and k not in accepted]
    if unknown and accepted is not None:
        key, guess = unknown[0], closest(unknown[0], accepted)
        takes = ", ".join(sorted(accepted - _LOOP_ONLY)) or "no options"
        raise config.error(
            ("loops", name, "options", key),
            f"{cls.__qualname__} takes no option {key!r}"
            + ("" if guess else f" (it takes: {takes})"),
            guess,
        )
    if signature is not None:
        takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        if takes_any or "name" in signature.parameters:
            kwargs.setdefault("name", name)
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            odd = next((k for k in options if k not in signature.parameters), None)
            at = ("loops", name, "options", odd) if odd and not takes_any else ("loops", name)
            raise config.error(at, f"{cls.__qualname__}({_show(kwargs)}): {exc}") from None

    def make() -> Loop:
        return cls(**copy.deepcopy(kwargs))  # replicas never share a mutable option

    return make


# Loop's own keywords a table sets in its own keys (or that no table sets): an unknown
# option is never said to be "like" one of them
_LOOP_ONLY = frozenset(
    {"name", "interval", "initial_delay", "enabled", "max_consecutive_errors", "backoff"}
    | {"should_run", "rand", "window", "hook_timeout", "cpu_time", "run_timeout"}
)


def _keywords(cls: type) -> frozenset[str] | None:
    """Every keyword ``cls(...)`` accepts, following ``**kwargs`` up the classes whose
    ``__init__`` hands them on (it calls ``super()``) to the first that takes no more;
    None when that cannot be known (an ``__init__`` that keeps ``**kwargs`` itself, or
    one without a signature)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            return frozenset(names)
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names.update(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return frozenset(names - {"self"})
        code = getattr(init, "__code__", None)
        if code is None or "super" not in code.co_names:
            return None  # it keeps what **kwargs gets: anything may be right
    return None


def _function_factory(proto: FunctionLoop, name: str, settings: _Settings) -> Callable[[], Loop]:
    """Fresh FunctionLoops running ``proto``'s function: the table's settings over what
    can be read back from the decorated loop (its interval, enabled, gate and hook
    timeout; its backoff and max_consecutive_errors cannot be read back, so the table's
    or the defaults apply)."""
    run_once, gate, hook_timeout = proto.run_once, proto.should_run, proto.hook_timeout
    if "should_run" in settings:  # leader_only, and the decorated loop's own gate
        lead, own = settings["should_run"], gate
        gate = lambda: lead() and own()  # noqa: E731
    interval = settings.get("interval", proto.interval)
    enabled = settings.get("enabled", proto.enabled)

    def make() -> Loop:
        return FunctionLoop(
            run_once,
            name=name,
            interval=interval,
            initial_delay=settings.get("initial_delay", 0.0),
            backoff=settings.get("backoff"),
            enabled=enabled,
            should_run=gate,
            max_consecutive_errors=settings.get("max_consecutive_errors"),
            hook_timeout=hook_timeout,
        )

    return make


def _show(kwargs: dict[str, object]) -> str:
    return ", ".join(f"{k}=..." for k in kwargs)
