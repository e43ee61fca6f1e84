"""A TID is a number in the broker and text in every JSON document made for people and
scripts: a JSON number past 2**53 is rounded by JavaScript and by jq 1.6."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from treadle.broker import WIRE, Broker, DeadLetter, Result, TaskEvent, TaskSpec, WorkerRecord
from treadle.broker import names as q

TID = 1796638195978276864  # a real one: as a double it is ...276900


def test_json_documents_write_tids_as_text() -> None:
    event = TaskEvent(tid=TID, event="started", manager=TID + 1)
    assert json.loads(event.model_dump_json())["tid"] == str(TID)
    assert event.model_dump(mode="json")["manager"] == str(TID + 1)
    assert event.model_dump()["tid"] == TID  # Python data keeps the int
    spec = TaskSpec(tid=TID, argv=("true",))
    assert spec.redacted()["tid"] == str(TID)
    letter = DeadLetter.of("q", TID, "raw", "bad")
    assert letter.model_dump(mode="json")["message_id"] == str(TID)


def test_numbers_and_text_are_both_accepted_on_input() -> None:
    for given in (TID, str(TID)):
        assert (
            Result.model_validate_json(json.dumps({"tid": given, "state": "completed"})).tid == TID
        )
        assert TaskSpec.model_validate({"tid": given, "argv": ["true"]}).tid == TID
    for bad in ("soon", "1e5", str(1 << 63), "-5", 0):
        with pytest.raises(ValidationError):
            Result.model_validate({"tid": bad, "state": "completed"})


def test_the_broker_keeps_numbers(tmp_path: Path) -> None:
    """Every version of treadle reads what another wrote: the wire format is unchanged."""
    event = TaskEvent(tid=TID, event="started", manager=TID + 1)
    assert json.loads(event.model_dump_json(context=WIRE))["tid"] == TID
    with Broker(str(tmp_path / "broker.db")) as broker:
        broker.write(q.TASK_LOG, event)
        [(raw, _)] = broker.peek_raw(q.TASK_LOG)
    assert json.loads(raw)["tid"] == TID
    assert json.loads(raw)["manager"] == TID + 1


def test_the_schema_says_text_out_and_either_in() -> None:
    out = WorkerRecord.model_json_schema(mode="serialization")
    assert out["properties"]["tid"] == {"$ref": "#/$defs/Tid"}
    assert (out["$defs"]["Tid"]["type"], out["$defs"]["Tid"]["pattern"]) == ("string", "^[0-9]+$")
    given = WorkerRecord.model_json_schema(mode="validation")["$defs"]["Tid"]["anyOf"]
    assert given == [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]
