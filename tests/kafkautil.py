"""Reading and writing test topics on the real broker, as downstream consumers do (read_committed)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord


def drain(bootstrap: str, topic: str, idle_ms: int = 4000) -> list[ConsumerRecord]:
    """Every committed record of `topic` so far (transactions still open or aborted are not seen)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=idle_ms,
                             isolation_level="read_committed")  # fmt: skip
    records = list(consumer)
    consumer.close()
    return records


def keys(bootstrap: str, topic: str, idle_ms: int = 3000) -> list[str]:
    return [r.key.decode() for r in drain(bootstrap, topic, idle_ms)]


def values(bootstrap: str, topic: str, idle_ms: int = 4000) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in drain(bootstrap, topic, idle_ms)]


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in messages:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()
