"""Real parts for integration tests: vLLM on CPU serving a tiny local model, Kafka, Redis, Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubeapi import KubeApi, Unavailable, running_apiserver

from corpus import SAMPLE_POLICY
from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm.records import Page
from domainlm.teacher import TeacherSettings
from domainlm.tinymodel import build_tiny_model
from domainlm.vllm_server import VllmServer
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.stores import PostgresServer, RedisServer


@pytest.fixture(scope="session")
def sample_pages() -> list[Page]:
    return list(PdfExtractor().run([str(SAMPLE_POLICY)], Funnel()))


@pytest.fixture(scope="session")
def tiny_model(sample_pages: list[Page], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", [p.text for p in sample_pages])


@pytest.fixture(scope="session")
def vllm_teacher(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeacherSettings]:
    log = tmp_path_factory.mktemp("logs") / "vllm.log"
    with VllmServer(tiny_model, "tiny-teacher", log_path=log, enforce_eager=True) as server:
        yield TeacherSettings(
            base_url=server.base_url, model="tiny-teacher", concurrency=16, max_tokens=2560, max_retries=1
        )


@pytest.fixture(scope="session")
def broker() -> Iterator[KafkaBroker]:
    """The real Apache Kafka broker, KRaft single node, for the whole session."""
    with KafkaBroker() as b:
        yield b


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """Debian's redis-server: the dedup replicas' shared index."""
    with RedisServer() as r:
        yield r


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Debian's PostgreSQL, a fresh cluster: the review service's store."""
    with PostgresServer() as p:
        yield p


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApi]:
    """The real kube-apiserver (RBAC) for the session; skipped, saying why, where it cannot run."""
    try:
        with running_apiserver(tmp_path_factory.mktemp("kube")) as api:
            yield api
    except Unavailable as e:
        pytest.skip(str(e))
