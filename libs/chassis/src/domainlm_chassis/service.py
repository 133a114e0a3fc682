"""What every stage service shares: its worker settings, and how its process runs.

A service's `__main__` builds its handler and calls `serve`: JSON logs (with the message's
correlation id where there is one), a Prometheus endpoint, graceful SIGTERM, then the worker loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import start_http_server
from pydantic import Field
from pydantic_settings import BaseSettings

from domainlm_chassis.kafkaconn import KafkaConnection, ensure_topics
from domainlm_chassis.worker import BatchHandler, Handler, StageWorker


class WorkerSettings(BaseSettings):
    """Kafka wiring of a stage service; subclasses set the topic defaults and an env prefix."""

    bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    in_topic: str = Field(
        description="the topic consumed (several: comma-separated); poison goes to <topic>.dlq"
    )
    out_topic: str = Field(description="the topic produced to, keyed by record id")
    group: str = Field(description="consumer group: replicas split the partitions")
    max_poll_records: int = Field(16, ge=1, description="messages per batch; offsets are committed per batch")
    dependency_wait_s: float = Field(
        120.0,
        gt=0,
        description="how long a batch waits for a dependency that is away (Redis, the database, the "
        "teacher) before the worker stops to be restarted; its messages are never dead-lettered for it",
    )
    metrics_port: int = Field(9100, ge=0, description="Prometheus /metrics port; 0 turns it off")
    grpc_port: int = Field(50051, ge=0, description="gRPC port (the stage's RPCs and health); 0 turns it off")
    exactly_once: bool = Field(
        True, description="outputs and input offsets in one Kafka transaction; off: at-least-once"
    )
    kafka: KafkaConnection = Field(
        default_factory=KafkaConnection, description="TLS and SASL of every Kafka client of the service"
    )
    topic_partitions: int = Field(
        0,
        ge=0,
        description="create the missing topics it reads and writes at start, this many partitions; 0: no",
    )
    topic_replication: int = Field(1, ge=1, description="replication factor of the topics it creates")
    # The evolver reads every chunk from the start of `chunks`, whenever it starts: never expire them.
    topic_configs: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {"chunks": {"retention.ms": "-1"}},
        description="per-topic configs of the topics it creates (JSON)",
    )

    def topics(self) -> set[str]:
        """Every topic the service reads or writes: its *_topic settings, and a .dlq per input."""
        found: set[str] = set()
        for name in type(self).model_fields:
            if name.endswith("_topic"):
                topics = [t.strip() for t in str(getattr(self, name)).split(",") if t.strip()]
                found.update(topics)
                if name == "in_topic":
                    found.update(f"{t}.dlq" for t in topics)
        return found

    def worker(
        self, stage: str, handler: Handler | None = None, batch_handler: BatchHandler | None = None
    ) -> StageWorker:
        return StageWorker(
            stage, self.bootstrap, self.in_topic, self.out_topic, handler, group=self.group,
            max_poll_records=self.max_poll_records, batch_handler=batch_handler,
            exactly_once=self.exactly_once, connection=self.kafka, dependency_wait_s=self.dependency_wait_s,
        )  # fmt: skip


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record), "level": record.levelname, "logger": record.name}
        entry["msg"] = record.getMessage()
        if cid := getattr(record, "correlation_id", None):
            entry["correlation_id"] = cid
        return json.dumps(entry, ensure_ascii=False)


def serve(worker: StageWorker, settings: WorkerSettings, servicers: Sequence[Any] = ()) -> None:
    """Runs a service's worker until SIGTERM, with JSON logs, a metrics endpoint and its gRPC server."""
    handler = logging.StreamHandler()
    handler.setFormatter(_JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=worker.metrics.registry)
    server = None
    if settings.grpc_port and servicers:
        from domainlm_chassis.grpc.server import start_grpc_server

        server = start_grpc_server(settings.grpc_port, servicers)
    if settings.topic_partitions:
        ensure_topics(
            settings.bootstrap, settings.topics(), settings.topic_partitions, settings.topic_replication,
            settings.kafka, settings.topic_configs,
        )  # fmt: skip
    worker.install_signal_handlers()
    try:
        worker.run()
    finally:
        if server is not None:
            server.stop(grace=5)
