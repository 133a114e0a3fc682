"""The Kafka stage worker: consume, run the stage, produce, and only then commit.

Delivery is at-least-once: offsets are committed after the outputs of a batch are acknowledged by the
broker, so a crash replays the uncommitted tail. Outputs are keyed by their record ids, which are
content-derived, so a replay produces the same keys and downstream consumers stay idempotent.

A message the stage cannot take (bad JSON, wrong schema, not a PDF, too large) goes to `<topic>.dlq`
with its reason in the headers, and the stream goes on. A handler error that may pass (a dependency
hiccup) is retried with backoff before the message is given up to the DLQ.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger("domainlm.worker")


class PoisonMessage(Exception):
    """The message can never be processed; `reason` is a short code for the DLQ header."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass
class Output:
    key: str
    value: bytes
    topic: str | None = None  # default: the worker's output topic


Handler = Callable[[ConsumerRecord], list[Output]]


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ["stage"]
        self.consumed = Counter(
            "domainlm_consumed_total", "messages consumed", labels, registry=self.registry
        )
        self.produced = Counter(
            "domainlm_produced_total", "messages produced", labels, registry=self.registry
        )
        self.failed = Counter(
            "domainlm_failed_total", "messages sent to the DLQ", [*labels, "reason"], registry=self.registry
        )
        self.lag = Gauge(
            "domainlm_consumer_lag", "messages behind the log end", labels, registry=self.registry
        )
        self.latency = Histogram(
            "domainlm_stage_seconds", "stage time per message", labels, registry=self.registry
        )


class StageWorker:
    def __init__(
        self,
        stage: str,
        bootstrap: str,
        in_topic: str,
        out_topic: str,
        handler: Handler,
        group: str | None = None,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_poll_records: int = 16,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.stage, self.bootstrap = stage, bootstrap
        self.in_topic, self.out_topic, self.dlq = in_topic, out_topic, f"{in_topic}.dlq"
        self.handler, self.group = handler, group or f"domainlm-{stage}"
        self.max_retries, self.backoff_s, self.max_poll_records = max_retries, backoff_s, max_poll_records
        self.metrics = metrics or WorkerMetrics()
        self.stopping = threading.Event()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT finish the batch in hand, commit it, and stop (graceful shutdown)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

    def run(self, idle_stop_s: float | None = None) -> int:
        """Processes until stopped (or idle for `idle_stop_s`); returns messages handled."""
        consumer = KafkaConsumer(
            self.in_topic, bootstrap_servers=self.bootstrap, group_id=self.group,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=self.max_poll_records,
        )  # fmt: skip
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5, retries=5)
        handled, idle_since = 0, time.monotonic()
        try:
            while not self.stopping.is_set():
                batch = consumer.poll(timeout_ms=500)
                if not batch:
                    if idle_stop_s is not None and time.monotonic() - idle_since > idle_stop_s:
                        break
                    continue
                offsets: dict[TopicPartition, OffsetAndMetadata] = {}
                for tp, records in batch.items():
                    for record in records:
                        self._process(record, producer)
                        offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
                        handled += 1
                producer.flush()  # outputs are durable before the offsets move: at-least-once
                consumer.commit(offsets)
                self._update_lag(consumer, offsets)
                idle_since = time.monotonic()
        finally:
            producer.close()
            consumer.close()
        return handled

    def _process(self, record: ConsumerRecord, producer: KafkaProducer) -> None:
        correlation = _header(record, "correlation-id") or uuid.uuid4().hex
        self.metrics.consumed.labels(self.stage).inc()
        for attempt in range(self.max_retries + 1):
            started = time.perf_counter()
            try:
                outputs = self.handler(record)
            except PoisonMessage as e:
                self._dead_letter(record, producer, e.reason, e.detail, correlation)
                return
            except Exception as e:  # a failure that may pass: back off, then give up to the DLQ
                if attempt == self.max_retries:
                    self._dead_letter(
                        record, producer, f"handler-error:{type(e).__name__}", str(e), correlation
                    )
                    return
                log.warning(
                    "%s: retry %d after %s", self.stage, attempt + 1, e, extra={"correlation_id": correlation}
                )
                time.sleep(self.backoff_s * 2**attempt)
                continue
            self.metrics.latency.labels(self.stage).observe(time.perf_counter() - started)
            headers = [("correlation-id", correlation.encode())]
            for out in outputs:
                producer.send(
                    out.topic or self.out_topic, key=out.key.encode(), value=out.value, headers=headers
                )
                self.metrics.produced.labels(self.stage).inc()
            return

    def _dead_letter(
        self, record: ConsumerRecord, producer: KafkaProducer, reason: str, detail: str, correlation: str
    ) -> None:
        log.warning(
            "%s: dead letter %s: %s", self.stage, reason, detail[:200], extra={"correlation_id": correlation}
        )
        self.metrics.failed.labels(self.stage, reason).inc()
        headers = [
            ("reason", reason.encode()), ("detail", detail[:2000].encode()), ("stage", self.stage.encode()),
            ("source-topic", record.topic.encode()), ("source-partition", str(record.partition).encode()),
            ("source-offset", str(record.offset).encode()), ("correlation-id", correlation.encode()),
        ]  # fmt: skip
        producer.send(self.dlq, key=record.key, value=record.value, headers=headers)

    def _update_lag(self, consumer: KafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        ends = consumer.end_offsets(list(offsets))
        self.metrics.lag.labels(self.stage).set(sum(ends[tp] - om.offset for tp, om in offsets.items()))


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or []:
        if key == name:
            return bytes(value).decode(errors="replace")
    return None
