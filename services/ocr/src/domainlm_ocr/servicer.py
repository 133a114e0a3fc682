"""gRPC ExtractService: one PDF in, its chunks and rejections out (the Kafka handler's reading of it)."""

from __future__ import annotations

import threading

import grpc

from domainlm.chunking import StructureChunker
from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm.records import Rejection
from domainlm_chassis.grpc.codecs import to_proto
from domainlm_chassis.grpc.server import status_for
from domainlm_chassis.protos.domainlm.v1 import extract_pb2, extract_pb2_grpc, records_pb2
from domainlm_ocr.handler import pdf_chunks
from domainlm_ocr.settings import OcrServiceSettings


class _Collecting(Funnel):
    """Keeps the rejections, which a caller gets back, with the caller's name for the document.

    The extractor names records by the path it read (PATH or PATH#pN), here a temporary file.
    """

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.rejections: list[Rejection] = []

    def reject(self, stage: str, reason: str, record_id: str, detail: str = "") -> Rejection:
        if stage == "extract":
            _, sep, page = record_id.partition("#")
            record_id = self.source + sep + page
        rejection = super().reject(stage, reason, record_id, detail)
        self.rejections.append(rejection)
        return rejection


class ExtractServicer(extract_pb2_grpc.ExtractServiceServicer):
    service_name = extract_pb2.DESCRIPTOR.services_by_name["ExtractService"].full_name

    def __init__(self, settings: OcrServiceSettings) -> None:
        self.extractor = PdfExtractor(settings.extract)
        self.chunker = StructureChunker(settings.chunk)
        # One document at a time: the extractor's OCR process pool is built for one caller, and OCR
        # already spreads one document's pages over every core.
        self._lock = threading.Lock()

    def add_to(self, server: grpc.Server) -> None:
        extract_pb2_grpc.add_ExtractServiceServicer_to_server(self, server)

    @status_for()
    def Extract(
        self, request: extract_pb2.ExtractRequest, context: grpc.ServicerContext
    ) -> extract_pb2.ExtractResponse:
        source = request.source or "document.pdf"
        funnel = _Collecting(source)
        with self._lock:
            chunks = pdf_chunks(request.pdf, source, self.extractor, self.chunker, funnel) or []
        return extract_pb2.ExtractResponse(
            chunks=[to_proto(c, records_pb2.Chunk) for c in chunks],
            rejections=[to_proto(r, records_pb2.Rejection) for r in funnel.rejections],
        )
