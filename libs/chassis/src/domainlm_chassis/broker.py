"""The real Apache Kafka broker (KRaft, single node) as a child process, for tests and local stacks.

Its jars come from scripts/setup-kafka.sh (Maven); it runs on the JDK with a fresh data directory that
is formatted with Kafka's own StorageTool before the first start.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from domainlm.childproc import DataDirServer, free_port
from domainlm_chassis.jars import jar_classpath

_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions={partitions}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes={max_bytes}
"""


def _cluster_id() -> str:
    # As Kafka's Uuid.randomUuid: never a leading "-", which StorageTool would read as an option.
    while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))[0] == "-":
        pass
    return cid


def kafka_classpath() -> str:
    return jar_classpath("kafka", "DOMAINLM_KAFKA_HOME", "kafka_2.13-*.jar")


class KafkaBroker(DataDirServer):
    """Context manager: a formatted, started broker; `bootstrap` is its address."""

    what = "Kafka"

    def __init__(
        self,
        data_dir: Path | None = None,
        partitions: int = 4,
        max_bytes: int = 8 * 1024 * 1024,
        sasl_users: dict[str, str] | None = None,
    ) -> None:
        super().__init__(data_dir, "domainlm-kafka-")
        self.controller = free_port()
        self.partitions, self.max_bytes = partitions, max_bytes
        self.log_path = self.data_dir / "broker.log"
        # With users, a second listener asks for SASL PLAIN (as managed brokers ask their clients).
        self.sasl_users = sasl_users or {}
        self.sasl_port = free_port() if self.sasl_users else 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        """The SASL_PLAINTEXT listener's address (only with `sasl_users`)."""
        return f"127.0.0.1:{self.sasl_port}"

    def _sasl_properties(self, text: str) -> str:
        if not self.sasl_users:
            return text
        users = " ".join(f'user_{name}="{password}"' for name, password in self.sasl_users.items())
        listener = f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}"
        text = text.replace("listeners=PLAINTEXT://", f"listeners={listener},PLAINTEXT://", 1)
        text = text.replace("advertised.listeners=", f"advertised.listeners={listener},", 1)
        text = text.replace(
            "listener.security.protocol.map=",
            "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,",
            1,
        )
        return text + (
            "sasl.enabled.mechanisms=PLAIN\n"
            "listener.name.sasl_plaintext.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};\n"
        )

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        classpath = kafka_classpath()
        props = self.data_dir / "server.properties"
        props.write_text(
            self._sasl_properties(_PROPERTIES.format(
                port=self.port, controller=self.controller, data=self.data_dir / "log",
                partitions=self.partitions, max_bytes=self.max_bytes,
            ))
        )  # fmt: skip
        cluster = _cluster_id()
        if not (self.data_dir / "log" / "meta.properties").exists():  # else: a stack started again
            subprocess.run(
                ["java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(props)],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        self.spawn(["java", "-Xmx512m", "-cp", classpath, "kafka.Kafka", str(props)], timeout)
        return self
