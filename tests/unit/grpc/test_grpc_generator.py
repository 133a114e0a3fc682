"""GeneratorService over a real channel, with the in-memory extractive teacher."""

from __future__ import annotations

import grpc
import pytest
from grpcutil import health, serving

from domainlm.fakes import ExtractiveTeacher
from domainlm.generation import SampleGenerator
from domainlm.records import Chunk, Rejection, Sample, SampleKind
from domainlm_chassis.grpc.codecs import from_proto, to_proto
from domainlm_chassis.protos.domainlm.v1 import generator_pb2, generator_pb2_grpc, records_pb2
from domainlm_generator.servicer import GeneratorServicer


def _generate(stub: generator_pb2_grpc.GeneratorServiceStub, chunk: Chunk) -> generator_pb2.GenerateResponse:
    return stub.Generate(generator_pb2.GenerateRequest(chunk=to_proto(chunk, records_pb2.Chunk)), timeout=30)


def test_generate_returns_what_the_stage_returns(policy_chunks: list[Chunk]) -> None:
    chunk = max(policy_chunks, key=lambda c: len(c.text))
    (expected,) = SampleGenerator(ExtractiveTeacher()).results([chunk])
    servicer = GeneratorServicer(SampleGenerator(ExtractiveTeacher()))
    with serving(servicer) as channel:
        assert health(channel, "domainlm.v1.GeneratorService") == "SERVING"
        reply = _generate(generator_pb2_grpc.GeneratorServiceStub(channel), chunk)
    samples = [from_proto(s, Sample) for s in reply.samples]
    assert samples == expected.samples and {s.kind for s in samples} == {SampleKind.QA, SampleKind.MCQ}
    assert [from_proto(r, Rejection) for r in reply.rejections] == [
        Rejection(stage="generate", reason=reason, record_id=rid, detail=detail)
        for reason, rid, detail in expected.rejections
    ]


def test_malformed_output_is_a_rejection_and_an_outage_is_unavailable(policy_chunks: list[Chunk]) -> None:
    chunk = policy_chunks[0]
    with serving(GeneratorServicer(SampleGenerator(ExtractiveTeacher(malformed_every=1)))) as channel:
        reply = _generate(generator_pb2_grpc.GeneratorServiceStub(channel), chunk)
        assert not reply.samples and [r.reason for r in reply.rejections] == ["malformed-output"]
    with serving(GeneratorServicer(SampleGenerator(ExtractiveTeacher(fail_every=1)))) as channel:
        with pytest.raises(grpc.RpcError) as err:
            _generate(generator_pb2_grpc.GeneratorServiceStub(channel), chunk)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "teacher-http-503" in (err.value.details() or "")


def test_a_request_without_a_chunk_is_invalid() -> None:
    servicer = GeneratorServicer(SampleGenerator(ExtractiveTeacher()))
    with serving(servicer) as channel, pytest.raises(grpc.RpcError) as err:
        generator_pb2_grpc.GeneratorServiceStub(channel).Generate(generator_pb2.GenerateRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
