"""Any TOML file read as a project file is: :func:`load_toml`.

Owns the steps a configuration file other than treadle.toml needs to get the same
errors and the same ``${VAR}`` rules: parse (tomllib), interpolate every string, validate
with a pydantic model; every failure a :class:`~treadle.ConfigError` naming the file, the
line, the column and the dotted field. For layers that read a file of their own beside
treadle.toml (``treadle.compat.loom`` reads the seed's ``loom.toml``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ._errors import Invalid, Source, problems, read_text
from ._interpolate import interpolate_tree
from ._load import parse_toml
from ._locate import Locator

__all__ = ["load_toml"]

M = TypeVar("M", bound=BaseModel)


def load_toml(
    path: Path | str,
    model: type[M],
    *,
    environ: Mapping[str, str] | None = None,
    expand: Callable[[str], str] | None = None,
) -> M:
    """The file ``path`` as a ``model``, its strings interpolated from ``environ``
    (default ``os.environ``).

    ``expand`` replaces that interpolation: each string value is rewritten by it instead
    (for a file whose own rules differ: Loom's ``$VAR`` and lenient ``${VAR}``).

    Raises:
        ConfigError: with the file, line, column and dotted field of the first problem.
    """
    file = Path(path)
    text = read_text(file, "project")
    data: object = parse_toml(text, file)
    source = Source(file, Locator.scan(text))
    if expand is not None:
        data = _rewrite(data, expand)
    else:
        try:
            data = interpolate_tree(data, os.environ if environ is None else environ)
        except Invalid as exc:
            raise source.error(exc.problem) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise source.first(problems(exc, data, model)) from None


def _rewrite(value: object, expand: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return expand(value)
    if isinstance(value, dict):
        return {k: _rewrite(v, expand) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, expand) for v in value]
    return value
