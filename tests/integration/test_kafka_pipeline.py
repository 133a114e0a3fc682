"""Equivalence: the same PDF through the one-process runner and through the services over Kafka."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from kafka import KafkaProducer
from kafkautil import values

from corpus import SAMPLE_POLICY
from domainlm.fakes import ExtractiveTeacher
from domainlm.generation import SampleGenerator
from domainlm.runner import PipelineRun
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.worker import StageWorker
from domainlm_generator.handler import chunk_batch_handler
from domainlm_ocr.handler import document_handler
from domainlm_ocr.settings import OcrServiceSettings

pytestmark = pytest.mark.integration


def test_services_over_kafka_give_the_same_samples_as_one_process(broker: KafkaBroker, tmp_path) -> None:
    # One process (the in-memory teacher is deterministic, so both paths can be compared exactly).
    PipelineRun([SAMPLE_POLICY], tmp_path / "run", teacher=ExtractiveTeacher(), progress=False).run()
    expected = {
        json.loads(line)["id"]: json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").open()
    }
    rejected = sum(1 for _ in (tmp_path / "run" / "rejections" / "generate.jsonl").open())

    # The services: documents → ocr → chunks → generator → samples.generated (+ rejections).
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    message = {
        "source": str(SAMPLE_POLICY),
        "pdf_base64": base64.b64encode(SAMPLE_POLICY.read_bytes()).decode(),
    }
    producer.send("eq-documents", key=b"doc", value=json.dumps(message).encode())
    producer.flush()
    producer.close()
    ocr = StageWorker("ocr", broker.bootstrap, "eq-documents", "eq-chunks",
                      document_handler(OcrServiceSettings()), group="eq-ocr")  # fmt: skip
    generator = SampleGenerator(ExtractiveTeacher())
    gen = StageWorker("generator", broker.bootstrap, "eq-chunks", "eq-samples", group="eq-gen",
                      batch_handler=chunk_batch_handler(generator, "eq-rejections"))  # fmt: skip
    threads = [threading.Thread(target=w.run, kwargs={"idle_stop_s": 12}) for w in (ocr, gen)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    got = {row["id"]: row for row in values(broker.bootstrap, "eq-samples")}
    assert got == expected
    assert len(values(broker.bootstrap, "eq-rejections")) == rejected
