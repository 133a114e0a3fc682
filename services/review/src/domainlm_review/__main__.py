"""`domainlm-review`: the review service's Kafka worker, gRPC server and HTTP page/API until SIGTERM."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any

from kafka import KafkaProducer

from domainlm.ingest import DocumentMessage
from domainlm.records import Chunk, Sample
from domainlm.review import ReviewGate, ReviewStore
from domainlm_chassis.chunkfeed import ChunkFeed
from domainlm_chassis.service import serve
from domainlm_review.handler import decision_outputs, sample_handler
from domainlm_review.servicer import ReviewServicer
from domainlm_review.settings import ReviewServiceSettings


def _start_http(app: Any, host: str, port: int) -> Any:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    # uvicorn installs no signal handlers outside the main thread: SIGTERM stays the worker's.
    threading.Thread(target=server.run, name="http", daemon=True).start()
    return server


def main() -> None:
    settings = ReviewServiceSettings()
    store = ReviewStore(settings.database_url)
    gate = ReviewGate(store, settings.review)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True,
        max_request_size=settings.http.max_upload_bytes * 2, **settings.kafka.client_config(),
    )  # fmt: skip

    def publish(sample: Sample) -> None:
        # A human decision sends the item on at once; keyed by id, so a repeated decision is idempotent.
        for out in decision_outputs(sample, settings.rejections_topic):
            producer.send(out.topic or settings.out_topic, key=out.key.encode(), value=out.value)
        producer.flush()

    def accept_document(name: str, data: bytes) -> dict[str, Any]:
        # The message other services put on `documents` (domainlm.ingest), keyed by content.
        doc_id = hashlib.sha256(data).hexdigest()
        message = DocumentMessage(source=name, pdf_base64=base64.b64encode(data).decode())
        value = json.dumps(message.model_dump(exclude_none=True), ensure_ascii=False).encode()
        producer.send(settings.documents_topic, key=doc_id.encode(), value=value).get(timeout=30)
        return {"doc_id": doc_id, "source": name, "topic": settings.documents_topic}

    http = None
    feed = None
    if settings.http.port:
        from domainlm_review.web.app import Wiring, create_app

        feed = (
            ChunkFeed(settings.bootstrap, settings.chunks_topic, settings.kafka.client_config())
            if settings.chunks_topic
            else None
        )

        def chunk(chunk_id: str) -> Chunk | None:
            return feed.get(chunk_id) if feed is not None else None

        wiring = Wiring(store=store, settings=settings.http, publish=publish,
                        accept_document=accept_document, chunk=chunk)  # fmt: skip
        http = _start_http(create_app(wiring), settings.http.host, settings.http.port)
    try:
        serve(
            settings.worker("review", sample_handler(gate, settings.rejections_topic)),
            settings,
            [ReviewServicer(store, publish)],
        )
    finally:
        if http is not None:
            http.should_exit = True
        if feed is not None:
            feed.close()
        producer.close()
        store.close()


if __name__ == "__main__":
    main()
