"""How a service's Kafka clients reach the brokers (TLS, SASL), and the topics it makes sure exist.

Platform teams run Kafka with TLS and SASL (SCRAM most often); every client of a service (its stage
worker, a producer beside it, the evolver's chunk feed) connects with the same settings, so they are
kept in one place and handed to kafka-python as its own keyword arguments.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

log = logging.getLogger("domainlm.kafka")


class KafkaConnection(BaseModel):
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="with SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    sasl_username: str = ""
    sasl_password: SecretStr = Field(SecretStr(""), description="with SASL_*; never logged")
    ssl_cafile: str = Field(
        "",
        description="with SSL/SASL_SSL: PEM file of the CAs that sign the brokers; the system's when empty",
    )
    ssl_check_hostname: bool = True

    def client_config(self) -> dict[str, Any]:
        """Keyword arguments for KafkaConsumer, KafkaProducer and KafkaAdminClient."""
        config: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            config |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        if self.security_protocol.endswith("SSL"):
            config["ssl_check_hostname"] = self.ssl_check_hostname
            if self.ssl_cafile:
                config["ssl_cafile"] = self.ssl_cafile
        return config


class KafkaUnreachable(RuntimeError):
    """No broker answered with these settings: wrong address, TLS, mechanism or credentials."""

    def __init__(self, bootstrap: str, connection: KafkaConnection, cause: Exception) -> None:
        how: str = connection.security_protocol
        if how.startswith("SASL"):
            how += f" ({connection.sasl_mechanism} as {connection.sasl_username!r})"
        super().__init__(
            f"cannot connect to Kafka at {bootstrap} over {how}: {cause}; check the address, TLS and "
            "credentials (a refused login is logged by kafka.net as 'Authentication failed')"
        )


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int,
    replication: int = 1,
    connection: KafkaConnection | None = None,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Creates the topics that are missing (idempotent: replicas starting together race harmlessly).

    Returns the topics this call created. `configs` holds per-topic settings, e.g. a retention.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    connection = connection or KafkaConnection()
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, **connection.client_config())
    except KafkaError as e:  # the client's own words are "unable to bootstrap"; say what was tried
        raise KafkaUnreachable(bootstrap, connection, e) from e
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for topic in sorted(set(topics) - existing):
            new = NewTopic(topic, partitions, replication, topic_configs=dict((configs or {}).get(topic, {})))
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica made it first
                admin.create_topics([new])
                created.append(topic)
    finally:
        admin.close()
    if created:
        log.info("created topics %s (%d partitions, replication %d)", created, partitions, replication)
    return created
