"""Reading and writing test topics on the real broker, as downstream consumers do (read_committed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from corpus import ROOT
from domainlm.dedup import MinhashConfig, NearDuplicateIndex
from domainlm.records import Page, Provenance, ReviewState, Sample, SampleKind

BIN = ROOT / ".venv" / "bin"


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


def clusters_of_samples(pages: list[Page]) -> list[list[Sample]]:
    """Distinct clause sentences, each with two edited copies: one cluster per sentence."""
    sentences = {
        s.strip() for p in pages for s in re.split(r"(?<=[다요])\.\s", p.text) if 40 <= len(s.strip()) <= 300
    }
    bases = sorted(sentences)
    # Keep only sentences that are not near-duplicates of one another, so the clusters are known.
    distinct = NearDuplicateIndex(MinhashConfig()).add_batch(bases, bases)
    bases = [b for b, m in zip(bases, distinct, strict=True) if m is None][:60]
    prov = Provenance(doc_id="d", source="s.pdf", pages=[1], section="제1조", chunk_id="c")

    def sample(text: str) -> Sample:
        q = "다음 조항의 내용은?"
        return Sample(id=Sample.make_id("c", "qa", q, text), kind=SampleKind.QA, instruction=q, output=text,
                      provenance=prov, review=ReviewState.APPROVED)  # fmt: skip

    return [
        [sample(b), sample(b + " 이 경우에도 같습니다."), sample(b.replace(" ", "  ", 1) + ".")]
        for b in bases
    ]


def start(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(BIN / command)], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def first_output(bootstrap: str, topics: list[str], timeout: float) -> bool:
    watcher = KafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                            isolation_level="read_committed")  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if watcher.poll(timeout_ms=100):
                return True
        return False
    finally:
        watcher.close()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def run_ocr_worker(settings: Any) -> int:
    """The ocr service's worker on `settings` in a thread until idle; returns the messages it handled."""
    import threading

    from domainlm_chassis.worker import StageWorker
    from domainlm_ocr.handler import document_handler

    worker = StageWorker("ocr", settings.bootstrap, settings.in_topic, settings.out_topic,
                         document_handler(settings), group=settings.group, backoff_s=0.1)  # fmt: skip
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(worker.run(idle_stop_s=6)))
    thread.start()
    thread.join(timeout=300)
    assert done, "worker did not finish"
    return done[0]
