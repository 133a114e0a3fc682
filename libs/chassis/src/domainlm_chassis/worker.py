"""The Kafka stage worker: consume, run the stage, produce, and only then commit.

Delivery: with `exactly_once` (the default) a batch's outputs, its dead letters and its input offsets
are one Kafka transaction (KIP-98, fenced by consumer group generation as in KIP-447): a crash aborts
the open transaction, the batch is replayed, and consumers reading `read_committed` (every worker does)
see each output once. Without it, offsets are committed after the outputs are acknowledged, which is
at-least-once. Either way outputs are keyed by their content-derived record ids, so a replay produces
the same keys and side effects outside Kafka (the dedup index, the review store) are idempotent.

A message the stage cannot take (bad JSON, wrong schema, not a PDF, too large) goes to `<its topic>.dlq`
with its reason in the headers, and the stream goes on. A handler error that may pass (a dependency
hiccup) is retried with backoff before the message is given up to the DLQ.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as kafka_errors
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import BaseModel, ValidationError

from domainlm.records import Rejection
from domainlm_chassis.kafkaconn import KafkaConnection

log = logging.getLogger("domainlm.worker")
_LAG_EVERY_S = 5.0
_JOIN_GRACE_S = 120.0  # how long `idle_stop_s` waits for a first partition assignment before counting idle


class PoisonMessage(Exception):
    """The message can never be processed; `reason` is a short code for the DLQ header."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


# Errors no reconnect mends: a newer replica took over (fenced), or the credentials are refused.
_FATAL: tuple[type[Exception], ...] = tuple(
    getattr(kafka_errors, name)
    for name in ("ProducerFencedError", "InvalidProducerEpochError", "TransactionalIdAuthorizationFailedError",
                 "GroupAuthorizationFailedError", "TopicAuthorizationFailedError", "SaslAuthenticationFailedError",
                 "AuthenticationFailedError")
    if hasattr(kafka_errors, name)
)  # fmt: skip


class DependencyUnavailable(Exception):
    """What the stage needs is away (Redis, the database, the teacher): the message is sound and waits
    for it; it is never dead-lettered for this."""


@dataclass
class Output:
    key: str
    value: bytes
    topic: str | None = None  # default: the worker's output topic


Handler = Callable[[ConsumerRecord], list[Output]]
# One result per record, in order: its outputs, or the exception it raised (PoisonMessage: to the DLQ
# at once; anything else: retried). Stages that gain from concurrency (teacher calls) take batches.
BatchHandler = Callable[[list[ConsumerRecord]], list["list[Output] | Exception"]]


M = TypeVar("M", bound=BaseModel)


def parse_records(records: list[ConsumerRecord], model: type[M], reason: str) -> list[M | PoisonMessage]:
    """Each message as a record of `model`, or a PoisonMessage(reason) saying why it is not one."""
    parsed: list[M | PoisonMessage] = []
    for record in records:
        try:
            parsed.append(model.model_validate_json(record.value))
        except ValidationError as e:
            parsed.append(PoisonMessage(reason, str(e)[:1000]))
    return parsed


def outputs_of(
    records: Iterable[Any], rejections: Iterable[Rejection] = (), rejections_topic: str | None = None
) -> list[Output]:
    """Records (keyed by their ids) for the output topic, rejections for the rejections topic."""
    out = [Output(r.id, r.model_dump_json().encode()) for r in records]
    out += [Output(r.record_id, r.model_dump_json().encode(), rejections_topic) for r in rejections]
    return out


def per_record(handler: Handler) -> BatchHandler:
    def handle(records: list[ConsumerRecord]) -> list[list[Output] | Exception]:
        results: list[list[Output] | Exception] = []
        for record in records:
            try:
                results.append(handler(record))
            except Exception as e:
                results.append(e)
        return results

    return handle


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
        handler: Handler | None = None,
        group: str | None = None,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        dependency_wait_s: float = 120.0,
        max_poll_records: int = 16,
        metrics: WorkerMetrics | None = None,
        batch_handler: BatchHandler | None = None,
        exactly_once: bool = True,
        connection: KafkaConnection | None = None,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("give a handler or a batch_handler")
        self.stage, self.bootstrap = stage, bootstrap
        # Several input topics, comma-separated, feed one stage (dedup reads verified and evolved samples).
        self.in_topics = [t.strip() for t in in_topic.split(",") if t.strip()]
        self.out_topic = out_topic
        self.batch_handler: BatchHandler = batch_handler or per_record(handler)  # type: ignore[arg-type]
        self.group = group or f"domainlm-{stage}"
        self.max_retries, self.backoff_s, self.max_poll_records = max_retries, backoff_s, max_poll_records
        self.dependency_wait_s = dependency_wait_s
        self.metrics = metrics or WorkerMetrics()
        self.exactly_once = exactly_once
        self.client_config = (connection or KafkaConnection()).client_config()
        self.stopping = threading.Event()
        self._lag_checked = 0.0

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT finish the batch in hand, commit it, and stop (graceful shutdown)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

    def run(self, idle_stop_s: float | None = None) -> int:
        """Processes until stopped (or idle for `idle_stop_s`); returns messages handled.

        A broker that goes away (restarts, a network cut) is waited for: the clients are closed and made
        again, the open transaction is aborted (the same transactional id fences it at once), and the
        batch is polled and processed again. Past `dependency_wait_s` of outage the worker gives up.
        """
        # A transactional id per process, kept across reconnects so a new producer fences the old one's
        # open transaction at once; the group generation (not the id) fences a zombie replica.
        tx_id = f"{self.group}-{uuid.uuid4().hex[:12]}" if self.exactly_once else None
        handled = [0]
        outage: float | None = None
        pause = self.backoff_s
        while True:
            try:
                self._consume(tx_id, idle_stop_s, handled)
                return handled[0]
            except KafkaError as e:
                if isinstance(e, _FATAL) or self.stopping.is_set():
                    raise
                now = time.monotonic()
                outage = outage if outage is not None else now
                if now - outage > self.dependency_wait_s:
                    raise
                log.warning("%s: Kafka unavailable (%s: %s); reconnecting in %.1fs", self.stage,
                            type(e).__name__, e, pause)  # fmt: skip
                if self.stopping.wait(pause):
                    return handled[0]
                pause = min(pause * 2, 10.0)

    def _consume(self, tx_id: str | None, idle_stop_s: float | None, handled: list[int]) -> None:
        consumer = KafkaConsumer(
            *self.in_topics, bootstrap_servers=self.bootstrap, group_id=self.group,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=self.max_poll_records,
            isolation_level="read_committed", **self.client_config,
        )  # fmt: skip
        producer = None
        try:
            producer = KafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", linger_ms=5, retries=5, transactional_id=tx_id,
                **self.client_config,
            )  # fmt: skip
            if tx_id:
                producer.init_transactions()
            started = time.monotonic()
            idle_since = started
            while not self.stopping.is_set():
                batch = consumer.poll(timeout_ms=500)
                if not batch:
                    now = time.monotonic()
                    # A replica still joining its group (a rebalance waits for the busy members) is not idle.
                    if not consumer.assignment() and now - started < _JOIN_GRACE_S:
                        idle_since = now
                    if idle_stop_s is not None and now - idle_since > idle_stop_s:
                        break
                    continue
                records = [r for rs in batch.values() for r in rs]
                offsets = {tp: OffsetAndMetadata(rs[-1].offset + 1, "", -1) for tp, rs in batch.items()}
                if tx_id:
                    self._transact(records, offsets, producer, consumer)
                else:
                    self._process(records, producer)
                    producer.flush()  # outputs are durable before the offsets move: at-least-once
                    consumer.commit(offsets)
                handled[0] += len(records)
                if time.monotonic() - self._lag_checked > _LAG_EVERY_S:  # a broker round trip: not per batch
                    self._update_lag(consumer, offsets)
                idle_since = time.monotonic()
        finally:
            with contextlib.suppress(Exception):
                if producer is not None:
                    producer.close(timeout=5)
            with contextlib.suppress(Exception):
                consumer.close()

    def _transact(
        self,
        records: list[ConsumerRecord],
        offsets: dict[TopicPartition, OffsetAndMetadata],
        producer: KafkaProducer,
        consumer: KafkaConsumer,
    ) -> None:
        producer.begin_transaction()
        try:
            self._process(records, producer)
            producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
            producer.commit_transaction()
        except BaseException:
            # Nothing of the batch is visible; the process stops and a restart replays the batch.
            with contextlib.suppress(Exception):
                producer.abort_transaction()
            raise

    def _process(self, records: list[ConsumerRecord], producer: KafkaProducer) -> None:
        """Runs the handler over a polled batch. Failures that may pass are retried with backoff, then
        dead-lettered; records whose dependency is away (DependencyUnavailable) wait for it, however
        many tries that takes, up to `dependency_wait_s`: a healthy message is never dead-lettered for
        a restarting database. Past that the batch is aborted and the process stops (it is replayed)."""
        self.metrics.consumed.labels(self.stage).inc(len(records))
        correlation = {id(r): _header(r, "correlation-id") or uuid.uuid4().hex for r in records}
        todo, attempt, waited, waits = records, 0, 0.0, 0
        while True:
            started = time.perf_counter()
            results = self.batch_handler(todo)
            self.metrics.latency.labels(self.stage).observe(
                (time.perf_counter() - started) / max(1, len(todo))
            )
            again: list[ConsumerRecord] = []
            away: str | None = None
            failed = False
            for record, result in zip(todo, results, strict=True):
                cid = correlation[id(record)]
                if isinstance(result, PoisonMessage):
                    self._dead_letter(record, producer, result.reason, result.detail, cid)
                elif isinstance(result, DependencyUnavailable):
                    again.append(record)
                    away = str(result)
                elif isinstance(result, Exception):
                    if attempt == self.max_retries:
                        self._dead_letter(
                            record, producer, f"handler-error:{type(result).__name__}", str(result), cid
                        )
                    else:
                        again.append(record)
                        failed = True
                else:
                    headers = [("correlation-id", cid.encode())]
                    for out in result:
                        producer.send(
                            out.topic or self.out_topic,
                            key=out.key.encode(),
                            value=out.value,
                            headers=headers,
                        )
                        self.metrics.produced.labels(self.stage).inc()
            if not again:
                return
            if failed:
                pause = self.backoff_s * 2**attempt
                attempt += 1
            else:
                if waited >= self.dependency_wait_s:
                    raise DependencyUnavailable(
                        f"{self.stage}: still unavailable after {waited:.0f}s: {away}"
                    )
                pause = min(self.backoff_s * 2**waits, 10.0)
                waits += 1
                waited += pause
            log.warning("%s: retrying %d message(s) in %.1fs: %s", self.stage, len(again), pause,
                        away or "handler error")  # fmt: skip
            if self.stopping.wait(pause):
                raise DependencyUnavailable(f"{self.stage}: stopping while waiting: {away}")
            todo = again

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
        producer.send(f"{record.topic}.dlq", key=record.key, value=record.value, headers=headers)

    def _update_lag(self, consumer: KafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self._lag_checked = time.monotonic()
        ends = consumer.end_offsets(list(offsets))
        self.metrics.lag.labels(self.stage).set(sum(ends[tp] - om.offset for tp, om in offsets.items()))


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or []:
        if key == name:
            return bytes(value).decode(errors="replace")
    return None
