"""A loop target whose module raises KeyboardInterrupt on import."""

raise KeyboardInterrupt("raised by an import")
