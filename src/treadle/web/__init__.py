"""The dashboard: JSON status, Prometheus metrics, a live event stream and a web page."""

from ._app import create_app as create_app
from ._dashboard import Dashboard as Dashboard
from ._dashboard import read_token as read_token

__all__ = ["Dashboard", "create_app", "read_token"]
