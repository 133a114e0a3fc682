"""`domainlm-ocr`: runs the ocr service's Kafka worker until SIGTERM."""

from __future__ import annotations

import logging

from domainlm_chassis.worker import StageWorker
from domainlm_ocr.handler import document_handler
from domainlm_ocr.settings import OcrServiceSettings


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format='{"ts":"%(asctime)s","level":"%(levelname)s","msg":"%(message)s"}'
    )
    settings = OcrServiceSettings()
    worker = StageWorker("ocr", settings.bootstrap, settings.in_topic, settings.out_topic,
                         document_handler(settings), group=settings.group, max_poll_records=settings.max_poll_records)  # fmt: skip
    worker.install_signal_handlers()
    worker.run()


if __name__ == "__main__":
    main()
