"""The ocr service against the real Kafka broker: same chunks as one process, poison to the DLQ, commits."""

from __future__ import annotations

import base64
import json

import pytest
from kafka import KafkaProducer
from kafkautil import drain, run_ocr_worker

from corpus import SAMPLE_POLICY
from domainlm.chunking import StructureChunker
from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm_chassis.broker import KafkaBroker
from domainlm_ocr.settings import OcrServiceSettings

pytestmark = pytest.mark.integration


def test_documents_to_chunks_with_poison_in_the_dlq(broker: KafkaBroker) -> None:
    settings = OcrServiceSettings(bootstrap=broker.bootstrap, max_inline_bytes=200_000)
    pdf = SAMPLE_POLICY.read_bytes()
    good = {
        "source": "약관/상해보험.pdf",
        "pdf_base64": base64.b64encode(pdf).decode(),
        "metadata": {"line": "상해"},
    }
    messages = [
        (b"good", json.dumps(good).encode()),
        (b"bad-json", b'{"source": "x.pdf", "pdf_base64": '),
        (
            b"not-pdf",
            json.dumps({"source": "notes.pdf", "pdf_base64": base64.b64encode(b"hello").decode()}).encode(),
        ),
        (b"schema", json.dumps({"name": "x.pdf", "bytes": "..."}).encode()),
        (b"oversize", json.dumps({"source": "big.pdf", "pdf_base64": "A" * 400_000}).encode()),
        (b"good-again", json.dumps(good).encode()),  # a redelivery of the same document
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for key, value in messages:
        producer.send("documents", key=key, value=value)
    producer.flush()
    producer.close()

    assert run_ocr_worker(settings) == len(messages)

    chunks = [json.loads(r.value) for r in drain(broker.bootstrap, "chunks")]
    dlq = {r.key: dict(r.headers) for r in drain(broker.bootstrap, "documents.dlq")}
    assert {k: v["reason"].decode() for k, v in dlq.items()} == {
        b"bad-json": "malformed-json",
        b"not-pdf": "not-a-pdf",
        b"schema": "invalid-message",
        b"oversize": "oversize",
    }
    assert all(v["source-topic"] == b"documents" for v in dlq.values())

    # Same chunks, same ids, as the one-process path; the redelivery yields the same keys again.
    pages = [
        p.model_copy(update={"source": "약관/상해보험.pdf"})
        for p in PdfExtractor().run([str(SAMPLE_POLICY)], Funnel())
    ]
    expected = {c.id: c.text for c in StructureChunker().run(pages, Funnel())}
    assert {c["id"]: c["text"] for c in chunks} == expected
    assert len(chunks) == 2 * len(expected) and all(c["source"] == "약관/상해보험.pdf" for c in chunks)

    # Offsets were committed after the outputs: a restarted worker has nothing left to do.
    assert run_ocr_worker(settings) == 0


def test_submit_inline_and_by_reference(broker: KafkaBroker) -> None:
    from typer.testing import CliRunner

    from domainlm.cli import app

    scan = SAMPLE_POLICY.with_name("domainlm-sample-rider-scan.pdf")
    args = ["submit", str(SAMPLE_POLICY), "--bootstrap", broker.bootstrap, "--topic", "inbox"]
    assert CliRunner().invoke(app, args).exit_code == 0
    ref = ["submit", str(scan), "--bootstrap", broker.bootstrap, "--topic", "inbox", "--by-reference"]
    result = CliRunner().invoke(app, ref)
    assert result.exit_code == 0 and "reference" in result.output
    settings = OcrServiceSettings(
        bootstrap=broker.bootstrap, in_topic="inbox", out_topic="inbox-chunks", group="g2"
    )
    assert run_ocr_worker(settings) == 2
    chunks = [json.loads(r.value) for r in drain(broker.bootstrap, "inbox-chunks")]
    assert {c["source"] for c in chunks} == {str(SAMPLE_POLICY), str(scan)}
    assert any("상해입원일당" in c["text"] for c in chunks if c["source"] == str(scan))  # OCRed
