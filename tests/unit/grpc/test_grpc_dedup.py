"""DedupService over a real channel, on the in-memory index."""

from __future__ import annotations

from grpcutil import health, serving

from domainlm.dedup import MinhashConfig, NearDuplicateIndex
from domainlm.records import Provenance, Sample, SampleKind
from domainlm_chassis.grpc.codecs import to_proto
from domainlm_chassis.protos.domainlm.v1 import dedup_pb2, dedup_pb2_grpc, records_pb2
from domainlm_dedup.servicer import DedupServicer

PROV = Provenance(doc_id="d", source="a.pdf", pages=[1], section="제3조", chunk_id="c1")
ORIGINAL = Sample(
    id="s1",
    kind=SampleKind.QA,
    instruction="피보험자가 사고로 입원한 경우 회사는 무엇을 지급합니까?",
    output="회사는 입원 1일당 약정한 입원일당을 최대 180일까지 지급합니다.",
    provenance=PROV,
)
# One figure changed: similar enough to be the same item, not identical.
COPY = ORIGINAL.model_copy(
    update={"id": "s2", "output": "회사는 입원 1일당 약정한 입원일당을 최대 120일까지 지급합니다."}
)
OTHER = ORIGINAL.model_copy(
    update={
        "id": "s3",
        "instruction": "보험료 납입이 연체되면 어떻게 됩니까?",
        "output": "계약이 해지될 수 있습니다.",
    }
)


def test_check_looks_up_and_check_and_add_keeps() -> None:
    index = NearDuplicateIndex(MinhashConfig())
    with serving(DedupServicer(index)) as channel:
        assert health(channel, "domainlm.v1.DedupService") == "SERVING"
        stub = dedup_pb2_grpc.DedupServiceStub(channel)

        def check(sample: Sample) -> dedup_pb2.CheckResponse:
            return stub.Check(dedup_pb2.CheckRequest(sample=to_proto(sample, records_pb2.Sample)), timeout=10)

        def add(sample: Sample) -> dedup_pb2.CheckAndAddResponse:
            request = dedup_pb2.CheckAndAddRequest(sample=to_proto(sample, records_pb2.Sample))
            return stub.CheckAndAdd(request, timeout=10)

        assert not check(ORIGINAL).duplicate and len(index) == 0  # Check changes nothing
        first = add(ORIGINAL)
        assert (first.duplicate, first.kept_id, first.similarity) == (False, "", 0.0)
        assert len(index) == 1

        for answer in (check(COPY), add(COPY)):
            assert answer.duplicate and answer.kept_id == "s1" and 0.5 <= answer.similarity < 1.0
        assert len(index) == 1  # the copy is not kept

        assert not add(ORIGINAL).duplicate  # a retried call answers as the first one did
        assert not add(OTHER).duplicate and len(index) == 2
