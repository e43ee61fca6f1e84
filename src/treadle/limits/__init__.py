"""Limits: named concurrency limiters with priorities and statistics."""

from ._limiter import Limiter as Limiter
from ._registry import Limits as Limits
from ._registry import default_limits as default_limits
from ._registry import limiter as limiter

__all__ = ["Limiter", "Limits", "default_limits", "limiter"]
