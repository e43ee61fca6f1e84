"""The bus: topic pub/sub with bounded, policy-driven subscriber queues."""

from ._bus import Bus as Bus
from ._subscription import Message as Message
from ._subscription import Overflow as Overflow
from ._subscription import Subscription as Subscription

__all__ = ["Bus", "Message", "Overflow", "Subscription"]
