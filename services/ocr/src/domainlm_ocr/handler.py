"""The one wiring module: a `documents` message → extract → chunk → chunk messages."""

from __future__ import annotations

import tempfile
from pathlib import Path

from kafka.consumer.fetcher import ConsumerRecord

from domainlm.chunking import StructureChunker
from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm.ingest import DocumentRejected, StorageUnavailable, parse_document_message
from domainlm.records import Chunk
from domainlm_chassis.worker import DependencyUnavailable, Handler, Output, PoisonMessage
from domainlm_ocr.settings import OcrServiceSettings


def pdf_chunks(
    data: bytes, source: str, extractor: PdfExtractor, chunker: StructureChunker, funnel: Funnel
) -> list[Chunk] | None:
    """One PDF's chunks, or None when no page could be extracted (the funnel says why).

    Shared by the Kafka handler and the gRPC Extract call, so both read a document the same way.
    """
    with tempfile.TemporaryDirectory(prefix="domainlm-ocr-") as tmp:
        path = Path(tmp) / "document.pdf"
        path.write_bytes(data)
        pages = list(extractor.run([str(path)], funnel))
    if not pages:
        return None
    # Provenance names the document as its producer does, not the worker's temporary file.
    pages = [p.model_copy(update={"source": source}) for p in pages]
    return list(chunker.run(pages, funnel))


def document_handler(settings: OcrServiceSettings) -> Handler:
    extractor = PdfExtractor(settings.extract)
    chunker = StructureChunker(settings.chunk)

    def handle(record: ConsumerRecord) -> list[Output]:
        try:
            message = parse_document_message(record.value)
            data = message.pdf_bytes(settings.max_inline_bytes, settings.s3)
        except DocumentRejected as e:
            raise PoisonMessage(e.reason, e.detail) from e
        except StorageUnavailable as e:  # the store is away: the document waits for it
            raise DependencyUnavailable(f"storage-unavailable: {e}") from e
        funnel = Funnel()
        chunks = pdf_chunks(data, message.source, extractor, chunker, funnel)
        if chunks is None:
            reasons = funnel.reasons["extract"]
            raise PoisonMessage(next(iter(reasons), "no-pages"), f"{message.source}: {dict(reasons)}")
        return [Output(c.id, c.model_dump_json().encode()) for c in chunks]

    return handle
