"""Any TOML file read as a project file is: :func:`load_toml`.

Owns the steps a configuration file other than treadle.toml needs to get the same
errors and the same ``${VAR}`` rules: parse (tomllib), interpolate every string, validate
with a pydantic model; every failure a :class:`~treadle.ConfigError` naming the file, the
line, the column and the dotted field. For layers that read a file of their own beside
treadle.toml (``treadle.compat.loom`` reads the seed's ``loom.toml``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ._errors import Invalid, Source, problems, read_text
from ._interpolate import interpolate_tree
from ._load import parse_toml
from ._locate import Locator

__all__ = ["load_toml"]

M = TypeVar("M", bound=BaseModel)


def load_toml(path: Path | str, model: type[M], *, environ: Mapping[str, str] | None = None) -> M:
    """The file ``path`` as a ``model``, its strings interpolated from ``environ``
    (default ``os.environ``).

    Raises:
        ConfigError: with the file, line, column and dotted field of the first problem.
    """
    file = Path(path)
    text = read_text(file, "project")
    data: object = parse_toml(text, file)
    source = Source(file, Locator.scan(text))
    env = os.environ if environ is None else environ
    try:
        data = interpolate_tree(data, env)
    except Invalid as exc:
        raise source.error(exc.problem) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise source.first(problems(exc, data, model)) from None
