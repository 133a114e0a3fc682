"""`domainlm-review`: the review service's Kafka worker and gRPC server (human decisions) until SIGTERM."""

from __future__ import annotations

from kafka import KafkaProducer

from domainlm.records import Sample
from domainlm.review import ReviewGate, ReviewStore
from domainlm_chassis.service import serve
from domainlm_review.handler import decision_outputs, sample_handler
from domainlm_review.servicer import ReviewServicer
from domainlm_review.settings import ReviewServiceSettings


def main() -> None:
    settings = ReviewServiceSettings()
    store = ReviewStore(settings.database_url)
    gate = ReviewGate(store, settings.review)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", **settings.kafka.client_config()
    )

    def publish(sample: Sample) -> None:
        # A human decision sends the item on at once; keyed by id, so a repeated decision is idempotent.
        for out in decision_outputs(sample, settings.rejections_topic):
            producer.send(out.topic or settings.out_topic, key=out.key.encode(), value=out.value)
        producer.flush()

    try:
        serve(
            settings.worker("review", sample_handler(gate, settings.rejections_topic)),
            settings,
            [ReviewServicer(store, publish)],
        )
    finally:
        producer.close()
        store.close()


if __name__ == "__main__":
    main()
