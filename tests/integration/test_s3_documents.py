"""Documents by object-storage reference (`s3://bucket/key`) against a real S3-compatible server
(s3proxy, Apache-2.0, over a local directory): the bytes come back as stored; a missing object, denied
access and an oversize object are refused with their reasons; an unreachable store is a passing fault.
Over Kafka, the ocr service turns a reference into chunks and dead-letters a missing object."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from kafka import KafkaProducer
from kafkautil import drain, run_ocr_worker

from corpus import SAMPLE_POLICY
from domainlm.childproc import free_port
from domainlm.ingest import DocumentMessage, DocumentRejected, ObjectStorage, StorageUnavailable
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.objectstore import S3ProxyServer
from domainlm_ocr.settings import OcrServiceSettings

pytestmark = pytest.mark.integration
BUCKET = "policies"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3ProxyServer]:
    with S3ProxyServer() as server:
        client = boto3.client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1",
                              aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
                              config=Config(request_checksum_calculation="when_required"))  # fmt: skip
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="2026/상해보험.pdf", Body=SAMPLE_POLICY.read_bytes())
        yield server


@pytest.fixture
def credentials(s3: S3ProxyServer, monkeypatch: pytest.MonkeyPatch) -> ObjectStorage:
    # As a deployment gives them: the SDK's environment variables, not settings.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    return ObjectStorage(endpoint_url=s3.endpoint_url)


def message(key: str) -> DocumentMessage:
    return DocumentMessage(source=key, uri=f"s3://{BUCKET}/{key}")


def test_an_object_is_read_and_bad_references_are_refused_with_reasons(
    credentials: ObjectStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert message("2026/상해보험.pdf").pdf_bytes(10_000_000, credentials) == SAMPLE_POLICY.read_bytes()
    cases = {
        "missing-object": lambda: message("2026/없는파일.pdf").pdf_bytes(10_000_000, credentials),
        "oversize": lambda: message("2026/상해보험.pdf").pdf_bytes(1000, credentials),
        "bad-uri": lambda: DocumentMessage(source="x", uri="s3://policies").pdf_bytes(
            10_000_000, credentials
        ),
    }
    for reason, read in cases.items():
        with pytest.raises(DocumentRejected) as e:
            read()
        assert e.value.reason == reason, (reason, e.value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(DocumentRejected) as e:
        message("2026/상해보험.pdf").pdf_bytes(10_000_000, credentials)
    assert e.value.reason == "access-denied"
    down = ObjectStorage(endpoint_url=f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(StorageUnavailable):
        message("2026/상해보험.pdf").pdf_bytes(10_000_000, down)


def test_the_ocr_service_reads_references_and_dead_letters_a_missing_object(
    broker: KafkaBroker, credentials: ObjectStorage
) -> None:
    run = uuid.uuid4().hex[:8]
    settings = OcrServiceSettings(bootstrap=broker.bootstrap, in_topic=f"documents-{run}", out_topic=f"chunks-{run}",
                                  group=f"ocr-{run}", s3=credentials)  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for key in ("2026/상해보험.pdf", "2026/없는파일.pdf"):
        producer.send(settings.in_topic, key=key.encode(), value=message(key).model_dump_json().encode())
    producer.flush()
    producer.close()
    assert run_ocr_worker(settings) == 2
    chunks = [json.loads(r.value) for r in drain(broker.bootstrap, settings.out_topic)]
    assert chunks and {c["source"] for c in chunks} == {"2026/상해보험.pdf"}
    dlq = {r.key.decode(): dict(r.headers) for r in drain(broker.bootstrap, f"{settings.in_topic}.dlq")}
    assert {k: v["reason"].decode() for k, v in dlq.items()} == {"2026/없는파일.pdf": "missing-object"}
