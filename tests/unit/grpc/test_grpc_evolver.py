"""EvolverService over a real channel, with the in-memory extractive teacher."""

from __future__ import annotations

import grpc
import pytest
from grpcutil import health, serving

from domainlm.evolution import EvolveSettings, InstructionEvolver
from domainlm.fakes import ExtractiveTeacher
from domainlm.generation import SampleGenerator
from domainlm.records import Chunk, Rejection, Sample, SampleKind
from domainlm_chassis.grpc.codecs import from_proto, to_proto
from domainlm_chassis.protos.domainlm.v1 import evolver_pb2, evolver_pb2_grpc, records_pb2
from domainlm_evolver.servicer import EvolverServicer


def _evolve(channel: grpc.Channel, sample: Sample) -> evolver_pb2.EvolveResponse:
    stub = evolver_pb2_grpc.EvolverServiceStub(channel)
    return stub.Evolve(evolver_pb2.EvolveRequest(sample=to_proto(sample, records_pb2.Sample)), timeout=30)


@pytest.fixture(scope="module")
def generated(policy_chunks: list[Chunk]) -> list[Sample]:
    chunk = max(policy_chunks, key=lambda c: len(c.text))
    (result,) = SampleGenerator(ExtractiveTeacher()).results([chunk])
    return result.samples


def _evolver(chunks: list[Chunk], teacher: ExtractiveTeacher | None = None) -> InstructionEvolver:
    settings = EvolveSettings(depth=1, per_sample=2)
    return InstructionEvolver(teacher or ExtractiveTeacher(), {c.id: c for c in chunks}, settings)


def test_evolve_returns_one_round_of_the_stage(policy_chunks: list[Chunk], generated: list[Sample]) -> None:
    qa = next(s for s in generated if s.kind == SampleKind.QA)
    (expected,) = _evolver(policy_chunks).results([qa])
    with serving(EvolverServicer(_evolver(policy_chunks))) as channel:
        assert health(channel, "domainlm.v1.EvolverService") == "SERVING"
        reply = _evolve(channel, qa)
    samples = [from_proto(s, Sample) for s in reply.samples]
    assert samples and sorted(samples, key=lambda s: s.id) == sorted(expected.samples, key=lambda s: s.id)
    assert all(s.provenance.parent_id == qa.id and s.provenance.depth == 1 for s in samples)
    assert len(reply.samples) + len(reply.rejections) == 2  # per_sample ops, each accounted for


def test_what_may_not_evolve_is_rejected_without_a_teacher_call(
    policy_chunks: list[Chunk], generated: list[Sample]
) -> None:
    teacher = ExtractiveTeacher()
    mcq = next(s for s in generated if s.kind == SampleKind.MCQ)
    deep = next(s for s in generated if s.kind == SampleKind.QA)
    deep = deep.model_copy(update={"provenance": deep.provenance.model_copy(update={"depth": 1})})
    with serving(EvolverServicer(_evolver(policy_chunks, teacher))) as channel:
        for sample in (mcq, deep):
            reply = _evolve(channel, sample)
            assert not reply.samples
            (rejection,) = [from_proto(r, Rejection) for r in reply.rejections]
            assert (rejection.stage, rejection.reason, rejection.record_id) == (
                "evolve",
                "not-evolvable",
                sample.id,
            )
    assert teacher.calls == 0


def test_a_teacher_outage_is_unavailable(policy_chunks: list[Chunk], generated: list[Sample]) -> None:
    qa = next(s for s in generated if s.kind == SampleKind.QA)
    servicer = EvolverServicer(_evolver(policy_chunks, ExtractiveTeacher(fail_every=1)))
    with serving(servicer) as channel, pytest.raises(grpc.RpcError) as err:
        _evolve(channel, qa)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "teacher-http-503" in (err.value.details() or "")
