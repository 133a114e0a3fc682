"""Every record survives record → proto → record unchanged, and the protos mirror the records."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel

from domainlm.records import (
    Chunk,
    Page,
    PreferencePair,
    Provenance,
    Rejection,
    ReviewState,
    Sample,
    SampleKind,
)
from domainlm.review.store import Decision
from domainlm_chassis.grpc.codecs import InvalidRequest, field_from_proto, from_proto, to_proto
from domainlm_chassis.protos.domainlm.v1 import generator_pb2, records_pb2, review_pb2

PROV = Provenance(doc_id="d" * 64, source="약관.pdf", pages=[3, 4], section="제3조(보상하는 손해)",
                  chunk_id="c1", teacher_model="m", prompt_version="generate-v1")  # fmt: skip
QA = Sample(id="s1", kind=SampleKind.QA, instruction="무엇을 보상합니까?", output="손해를 보상합니다.",
            provenance=PROV, scores={"faithfulness": 0.8125, "support": 1.0})  # fmt: skip
MCQ = QA.model_copy(update={
    "id": "s2", "kind": SampleKind.MCQ, "choices": ["가", "나", "다", "라"], "answer_index": 0,
    "review": ReviewState.EDITED, "reviewer": "kim", "scores": {},
})  # fmt: skip
EVOLVED = QA.model_copy(update={
    "id": "s3", "kind": SampleKind.EVOLVED,
    "provenance": PROV.model_copy(update={"parent_id": "s1", "evolution_op": "deepening", "depth": 2}),
})  # fmt: skip

RECORDS: list[tuple[BaseModel, type[Message]]] = [
    (Page(source="a.pdf", doc_id="d", page=1, text="제1조", method="text-layer", reason="sound", seconds=0.25),
     records_pb2.Page),
    (Page(source="a.pdf", doc_id="d", page=2, text="", method="ocr", confidence=0.0), records_pb2.Page),
    (Chunk(id="c1", doc_id="d", source="a.pdf", index=0, pages=[1], section="", text="본문", tokens=0),
     records_pb2.Chunk),
    (PROV, records_pb2.Provenance),
    (QA, records_pb2.Sample),
    (MCQ, records_pb2.Sample),
    (EVOLVED, records_pb2.Sample),
    (PreferencePair(id="p1", sample_id="s2", prompt="질문", chosen="맞음", rejected="틀림",
                    rejected_source="distractor", in_sft=False, provenance=PROV), records_pb2.PreferencePair),
    (Rejection(stage="generate", reason="malformed-output", record_id="c1"), records_pb2.Rejection),
    (Decision(id="s1", action="approve"), review_pb2.Decision),
    (Decision(id="s1", action="edit", reviewer="lee", note="오타", output="고친 답"), review_pb2.Decision),
]  # fmt: skip


@pytest.mark.parametrize(
    ("record", "cls"), RECORDS, ids=lambda x: type(x).__name__ if isinstance(x, BaseModel) else None
)
def test_round_trip_is_exact(record: BaseModel, cls: type[Message]) -> None:
    message = to_proto(record, cls)
    assert isinstance(message, cls)
    back = from_proto(message, type(record))
    assert back == record
    assert back.model_dump() == record.model_dump()  # None stays None, 0 stays 0, enums stay enums


def test_wire_form_round_trips_too() -> None:
    wire = to_proto(MCQ, records_pb2.Sample).SerializeToString()
    assert from_proto(records_pb2.Sample.FromString(wire), Sample) == MCQ


def test_optional_zero_is_kept_apart_from_none() -> None:
    assert to_proto(MCQ, records_pb2.Sample).HasField("answer_index")  # index 0: the first choice
    assert not to_proto(QA, records_pb2.Sample).HasField("answer_index")


@pytest.mark.parametrize(
    ("model", "cls"),
    [(Page, records_pb2.Page), (Chunk, records_pb2.Chunk), (Provenance, records_pb2.Provenance),
     (Sample, records_pb2.Sample), (PreferencePair, records_pb2.PreferencePair),
     (Rejection, records_pb2.Rejection), (Decision, review_pb2.Decision)],
)  # fmt: skip
def test_protos_have_exactly_the_record_fields(model: type[BaseModel], cls: type[Message]) -> None:
    assert set(cls.DESCRIPTOR.fields_by_name) == set(model.model_fields)


def test_a_field_the_proto_lacks_is_an_error_not_dropped() -> None:
    with pytest.raises(json_format.ParseError):
        to_proto({"stage": "x", "reason": "y", "record_id": "z", "extra": 1}, records_pb2.Rejection)


def test_request_fields_must_be_set_and_valid() -> None:
    # An unset message field reads as a blank message, which could pass as a record with empty ids.
    with pytest.raises(InvalidRequest, match="chunk is required"):
        field_from_proto(generator_pb2.GenerateRequest(), "chunk", Chunk)
    bad = review_pb2.DecideRequest(decision=review_pb2.Decision(id="s1", action="maybe"))
    with pytest.raises(InvalidRequest, match="invalid decision"):
        field_from_proto(bad, "decision", Decision)
