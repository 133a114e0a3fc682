"""ExtractService over a real channel: the sample policy becomes chunks; a non-PDF, a rejection."""

from __future__ import annotations

from grpcutil import health, serving

from corpus import SAMPLE_POLICY
from domainlm.records import Chunk, Rejection
from domainlm_chassis.grpc.codecs import from_proto
from domainlm_chassis.protos.domainlm.v1 import extract_pb2, extract_pb2_grpc
from domainlm_ocr.servicer import ExtractServicer
from domainlm_ocr.settings import OcrServiceSettings


def test_extract_chunks_a_pdf_and_rejects_what_is_not_one(policy_chunks: list[Chunk]) -> None:
    servicer = ExtractServicer(OcrServiceSettings())
    with serving(servicer) as channel:
        assert health(channel, "domainlm.v1.ExtractService") == "SERVING"
        stub = extract_pb2_grpc.ExtractServiceStub(channel)

        reply = stub.Extract(
            extract_pb2.ExtractRequest(
                pdf=SAMPLE_POLICY.read_bytes(), source="policy.pdf", metadata={"k": "v"}
            ),
            timeout=60,
        )
        chunks = [from_proto(c, Chunk) for c in reply.chunks]
        assert not reply.rejections
        # The same chunks as the stage code gives, named as the caller named the document.
        assert [c.model_copy(update={"source": ""}) for c in chunks] == [
            c.model_copy(update={"source": ""}) for c in policy_chunks
        ]
        assert {c.source for c in chunks} == {"policy.pdf"}

        reply = stub.Extract(extract_pb2.ExtractRequest(pdf=b"not a pdf", source="junk.pdf"), timeout=60)
        assert not reply.chunks
        assert [from_proto(r, Rejection) for r in reply.rejections] == [
            Rejection(
                stage="extract", reason="not-a-pdf", record_id="junk.pdf", detail=reply.rejections[0].detail
            )
        ]
