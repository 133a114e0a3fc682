"""Delivery guarantees of the stage worker against the real broker: crash and restart, two replicas."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError
from kafkautil import keys, produce
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from corpus import ROOT
from domainlm.childproc import free_port
from domainlm.chunking import StructureChunker
from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.kafkaconn import ensure_topics
from domainlm_chassis.worker import StageWorker
from domainlm_ocr.handler import document_handler
from domainlm_ocr.settings import OcrServiceSettings

pytestmark = pytest.mark.integration
DOCS = 24


def make_pdf(i: int, path: Path) -> Path:
    pdfmetrics.registerFont(TTFont("Nanum", "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"))
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Nanum", 10)
    lines = [f"시험 약관 {i}호"]
    for n in range(1, 4):
        lines += [
            f"제{n}조(시험 조항 {i}-{n})",
            f"회사는 문서 {i}의 제{n}조에 따라 보험금 {i * 100 + n}만원을 지급합니다.",
        ]
    for k, line in enumerate(lines):
        c.drawString(56, 780 - 18 * k, line)
    c.save()
    return path


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[tuple[str, bytes]], set[str]]:
    """The messages, and the chunk ids the one-process path makes of them."""
    folder = tmp_path_factory.mktemp("docs")
    messages, expected = [], set()
    for i in range(DOCS):
        pdf = make_pdf(i, folder / f"doc{i}.pdf")
        source = f"시험/doc{i}.pdf"
        messages.append(
            (
                source,
                json.dumps(
                    {"source": source, "pdf_base64": base64.b64encode(pdf.read_bytes()).decode()}
                ).encode(),
            )
        )
        pages = [p.model_copy(update={"source": source}) for p in PdfExtractor().run([str(pdf)], Funnel())]
        expected |= {c.id for c in StructureChunker().run(pages, Funnel())}
    return messages, expected


def test_sigkill_mid_stream_then_restart_loses_and_invents_nothing(broker: KafkaBroker, documents) -> None:
    messages, expected = documents
    run = uuid.uuid4().hex[:8]
    topic_in, topic_out = f"documents-{run}", f"chunks-{run}"
    produce(broker.bootstrap, topic_in, messages)
    env = {**os.environ, "DOMAINLM_OCR_BOOTSTRAP": broker.bootstrap, "DOMAINLM_OCR_IN_TOPIC": topic_in,
           "DOMAINLM_OCR_OUT_TOPIC": topic_out, "DOMAINLM_OCR_GROUP": f"ocr-{run}",
           "DOMAINLM_OCR_MAX_POLL_RECORDS": "1", "DOMAINLM_OCR_METRICS_PORT": str(free_port()),
           "DOMAINLM_OCR_GRPC_PORT": str(free_port())}  # fmt: skip
    service = [str(ROOT / ".venv" / "bin" / "domainlm-ocr")]

    watcher = KafkaConsumer(
        topic_out,
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    first = subprocess.Popen(service, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not watcher.poll(timeout_ms=100) and time.monotonic() < deadline:
        pass
    watcher.close()
    first.send_signal(signal.SIGKILL)  # mid-stream: some outputs produced, offsets maybe not committed
    first.wait()
    assert set(keys(broker.bootstrap, topic_out)) < expected, "the crash should have come mid-stream"

    second = subprocess.Popen(service, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while set(keys(broker.bootstrap, topic_out)) != expected and time.monotonic() < deadline:
            time.sleep(1)
        url = f"http://127.0.0.1:{env['DOMAINLM_OCR_METRICS_PORT']}/metrics"
        metrics = urllib.request.urlopen(url, timeout=10).read().decode()
        consumed = re.search(r'^domainlm_consumed_total\{stage="ocr"\} (\S+)$', metrics, re.M)
        assert consumed and float(consumed.group(1)) > 0, metrics[:2000]
    finally:
        second.send_signal(signal.SIGTERM)  # graceful: finishes its batch and commits
        assert second.wait(timeout=60) == 0
    found = keys(broker.bootstrap, topic_out)
    # Exactly once: the killed process's open transaction was aborted, its batch replayed by the next.
    assert sorted(found) == sorted(expected)
    assert keys(broker.bootstrap, f"{topic_in}.dlq") == []


def test_two_replicas_split_the_partitions(broker: KafkaBroker, documents) -> None:
    messages, expected = documents
    run = uuid.uuid4().hex[:8]
    settings = OcrServiceSettings(bootstrap=broker.bootstrap, in_topic=f"documents-{run}",
                                  out_topic=f"chunks-{run}", group=f"ocr-{run}")  # fmt: skip
    ensure_topics(broker.bootstrap, [settings.in_topic, settings.out_topic], 4)
    handled: dict[int, int] = {}

    def replica(n: int) -> None:
        worker = StageWorker("ocr", settings.bootstrap, settings.in_topic, settings.out_topic,
                             document_handler(settings), group=settings.group, max_poll_records=1)  # fmt: skip
        handled[n] = worker.run(idle_stop_s=8)

    threads = [threading.Thread(target=replica, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    # The documents go on once both replicas hold partitions: produced earlier, the first replica to join
    # can finish them all while the group is still rebalancing for the second.
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    deadline = time.monotonic() + 120
    members: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(KafkaError):  # the group's coordinator may not be elected yet
            members = admin.describe_groups([settings.group])[settings.group]["members"]
            held = [
                m
                for m in members
                if any(a["partitions"] for a in m["member_assignment"]["assigned_partitions"])
            ]
        if len(held) == 2:
            break
        time.sleep(0.5)
    admin.close()
    assert len(held) == 2, members
    produce(broker.bootstrap, settings.in_topic, messages)
    for t in threads:
        t.join(timeout=300)
    assert set(handled) == {1, 2} and all(n > 0 for n in handled.values()), handled
    assert sum(handled.values()) >= DOCS
    found = keys(broker.bootstrap, settings.out_topic)
    assert sorted(found) == sorted(expected)  # each record once, though two replicas shared the topic
