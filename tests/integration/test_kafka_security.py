"""The services' Kafka connection settings against a real broker that asks for SASL, and the topics a
service creates at start (the chart's `kafka.topics`): partitions, DLQs, configs, idempotent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.kafkaconn import KafkaConnection, KafkaUnreachable, ensure_topics
from domainlm_chassis.worker import Output
from domainlm_generator.settings import GeneratorServiceSettings

pytestmark = pytest.mark.integration
USER, PASSWORD = "domainlm", "s3cret-pass"


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[KafkaBroker]:
    with KafkaBroker(partitions=2, sasl_users={USER: PASSWORD}) as b:
        yield b


def connection(password: str = PASSWORD) -> KafkaConnection:
    return KafkaConnection(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username=USER, sasl_password=password
    )


def test_a_service_creates_its_topics_once_with_their_dlqs_and_configs(sasl_broker: KafkaBroker) -> None:
    settings = GeneratorServiceSettings(
        bootstrap=sasl_broker.sasl_bootstrap, kafka=connection(), topic_partitions=3, in_topic="chunks"
    )
    topics = settings.topics()
    assert topics == {"chunks", "chunks.dlq", "samples.generated", "rejections"}
    made = ensure_topics(
        settings.bootstrap, topics, settings.topic_partitions, 1, settings.kafka, settings.topic_configs
    )
    assert sorted(made) == sorted(topics)
    # a second replica starting finds them there and creates nothing
    assert ensure_topics(settings.bootstrap, topics, 3, 1, settings.kafka, settings.topic_configs) == []
    admin = KafkaAdminClient(bootstrap_servers=sasl_broker.sasl_bootstrap, **connection().client_config())
    try:
        described = {t["name"]: t for t in admin.describe_topics(sorted(topics))}
        assert {t: len(d["partitions"]) for t, d in described.items()} == dict.fromkeys(topics, 3)
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "chunks")])
        # the evolver reads every chunk from the start: they never expire
        assert configs["topic"]["chunks"]["retention.ms"]["value"] == "-1"
    finally:
        admin.close()


def test_the_stage_worker_and_producers_connect_with_sasl(sasl_broker: KafkaBroker) -> None:
    boot, config = sasl_broker.sasl_bootstrap, connection().client_config()
    ensure_topics(boot, ["in-sasl", "in-sasl.dlq", "out-sasl"], 1, 1, connection())
    producer = KafkaProducer(bootstrap_servers=boot, acks="all", **config)
    for i in range(3):
        producer.send("in-sasl", key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()
    settings = GeneratorServiceSettings(
        bootstrap=boot, kafka=connection(), in_topic="in-sasl", out_topic="out-sasl", group="sasl-group"
    )
    worker = settings.worker("sasl", lambda r: [Output(key=r.key.decode(), value=r.value.upper())])
    assert worker.run(idle_stop_s=3) == 3
    consumer = KafkaConsumer("out-sasl", bootstrap_servers=boot, auto_offset_reset="earliest",
                             consumer_timeout_ms=4000, isolation_level="read_committed", **config)  # fmt: skip
    assert sorted(r.value for r in consumer) == [b"V0", b"V1", b"V2"]
    consumer.close()


def test_a_wrong_password_is_refused_with_what_was_tried(sasl_broker: KafkaBroker) -> None:
    # The client gives up after its bootstrap timeout (30 s) and says what it tried, never the password.
    with pytest.raises(KafkaUnreachable) as refused:
        ensure_topics(sasl_broker.sasl_bootstrap, ["never"], 1, 1, connection("wrong"))
    message = str(refused.value)
    assert (
        f"cannot connect to Kafka at {sasl_broker.sasl_bootstrap} over SASL_PLAINTEXT (PLAIN as 'domainlm')"
        in message
    )
    assert "wrong" not in message.replace("wrong address", "")
    # the password never shows in the settings' text (logs, errors)
    assert "s3cret" not in repr(connection())
