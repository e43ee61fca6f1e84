"""The broker: durable queues on simplebroker, typed messages, and the asyncio bridge."""

from . import _names as names
from ._bridge import AsyncBroker as AsyncBroker
from ._broker import Broker as Broker
from ._messages import TERMINAL as TERMINAL
from ._messages import WIRE as WIRE
from ._messages import Control as Control
from ._messages import DeadLetter as DeadLetter
from ._messages import MessageId as MessageId
from ._messages import OutboxAdapter as OutboxAdapter
from ._messages import Output as Output
from ._messages import Reply as Reply
from ._messages import Result as Result
from ._messages import TaskEvent as TaskEvent
from ._messages import Tid as Tid
from ._messages import WorkerRecord as WorkerRecord
from ._target import ENV as ENV
from ._target import BrokerURL as BrokerURL
from ._target import resolve as resolve
from ._taskspec import TaskLimits as TaskLimits
from ._taskspec import TaskSpec as TaskSpec

__all__ = [
    "ENV",
    "TERMINAL",
    "WIRE",
    "AsyncBroker",
    "Broker",
    "BrokerURL",
    "Control",
    "DeadLetter",
    "MessageId",
    "OutboxAdapter",
    "Output",
    "Reply",
    "Result",
    "TaskEvent",
    "TaskLimits",
    "TaskSpec",
    "Tid",
    "WorkerRecord",
    "names",
    "resolve",
]
