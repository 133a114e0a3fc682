"""`domainlm-ocr`: the ocr service's Kafka worker and gRPC server until SIGTERM."""

from __future__ import annotations

from domainlm_chassis.service import serve
from domainlm_ocr.handler import document_handler
from domainlm_ocr.servicer import ExtractServicer
from domainlm_ocr.settings import OcrServiceSettings


def main() -> None:
    settings = OcrServiceSettings()
    serve(settings.worker("ocr", document_handler(settings)), settings, [ExtractServicer(settings)])


if __name__ == "__main__":
    main()
