"""The stage worker's recovery logic, without a broker: a batch whose dependency is away waits for it
(never the DLQ), a failing handler is retried then dead-lettered, and a broker outage reconnects until
it passes, while a fatal Kafka error or an outage past the limit ends the run."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.errors import KafkaConnectionError, ProducerFencedError

from domainlm_chassis.worker import DependencyUnavailable, Output, PoisonMessage, StageWorker


class Record:
    def __init__(self, key: str) -> None:
        self.key, self.value, self.topic, self.partition, self.offset = key.encode(), b"{}", "in", 0, 0
        self.headers: list[tuple[str, bytes]] = []


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes, headers: Any = None) -> None:
        self.sent.append((topic, key))


def worker(handler, **kw: Any) -> StageWorker:
    return StageWorker("t", "127.0.0.1:1", "in", "out", batch_handler=handler, backoff_s=0.001, **kw)


def test_a_dependency_away_holds_the_batch_and_a_failing_handler_ends_in_the_dlq() -> None:
    calls = {"n": 0}

    def handler(records: list[Any]) -> list[Any]:
        calls["n"] += 1
        out: list[Any] = []
        for r in records:
            if r.key == b"dep" and calls["n"] < 8:  # away for seven tries: more than max_retries
                out.append(DependencyUnavailable("redis away"))
            elif r.key == b"bug":
                out.append(RuntimeError("always fails"))
            elif r.key == b"poison":
                out.append(PoisonMessage("invalid", "bad"))
            else:
                out.append([Output(key=r.key.decode(), value=b"v")])
        return out

    producer = Producer()
    worker(handler, max_retries=3)._process(
        [Record("ok"), Record("dep"), Record("bug"), Record("poison")], producer
    )
    assert ("out", b"ok") in producer.sent and (
        "out",
        b"dep",
    ) in producer.sent  # the held record came through
    assert sorted(k for t, k in producer.sent if t == "in.dlq") == [b"bug", b"poison"]


def test_a_dependency_away_past_the_limit_stops_the_worker_instead_of_dead_lettering() -> None:
    w = worker(lambda records: [DependencyUnavailable("db away")] * len(records), dependency_wait_s=0.01)
    producer = Producer()
    with pytest.raises(DependencyUnavailable):
        w._process([Record("x")], producer)
    assert producer.sent == []


def test_a_broker_outage_reconnects_and_a_fatal_error_ends_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    w = worker(lambda records: [], dependency_wait_s=5)
    attempts: list[str | None] = []

    def consume(tx_id: str | None, idle_stop_s: float | None, handled: list[int]) -> None:
        attempts.append(tx_id)
        if len(attempts) < 3:
            raise KafkaConnectionError("broker restarting")
        handled[0] += 7

    monkeypatch.setattr(w, "_consume", consume)
    assert w.run() == 7 and len(attempts) == 3
    assert len(set(attempts)) == 1, "the same transactional id fences the old producer's transaction"

    def fenced(*_: Any) -> None:
        raise ProducerFencedError()

    monkeypatch.setattr(w, "_consume", fenced)
    with pytest.raises(ProducerFencedError):
        w.run()

    w.dependency_wait_s = 0.0

    def down(*_: Any) -> None:
        raise KafkaConnectionError("gone")

    monkeypatch.setattr(w, "_consume", down)
    with pytest.raises(KafkaConnectionError):
        w.run()
