"""Shared state: a versioned key-value store with compare-and-set and watches."""

from ._store import StateStore as StateStore
from ._store import Versioned as Versioned

__all__ = ["StateStore", "Versioned"]
