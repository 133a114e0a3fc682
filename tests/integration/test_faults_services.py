"""Dependencies restarted under running services: Redis under dedup (the shared index is append-only, so
it survives), PostgreSQL under review, and the Kafka broker itself under dedup. Each is away for longer
than the worker's retries of a failing handler last; the services recover by themselves, nothing is
dead-lettered, every record comes out exactly once, and no near-duplicate slips past the index."""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from kafkautil import clusters_of_samples, drain, first_output, keys, produce, start, wait_for

from domainlm.childproc import free_port
from domainlm.records import Page, ReviewState, Sample
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.stores import PostgresServer, RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AWAY_S = 8.0  # longer than a failing handler's retries (0.5 + 1 + 2 s) before the DLQ


def restart_when_flowing(
    server: RedisServer | PostgresServer, bootstrap: str, run: str, out: str, topic: str, rest: list[Sample]
) -> None:
    """Stops the server once the service's first output is committed, sends the `rest` of the records
    while it is away (so the service meets the outage mid-stream), and starts it again AWAY_S later."""
    assert first_output(bootstrap, [f"{out}-{run}", f"rejections-{run}"], 120), "no output before the restart"
    server.stop()
    produce(bootstrap, topic, [(s.id, s.model_dump_json().encode()) for s in rest])
    time.sleep(AWAY_S)
    server.start()


def dedup_env(bootstrap: str, run: str, redis_url: str) -> dict[str, str]:
    return {f"DOMAINLM_DEDUP_{k}": v for k, v in {
        "BOOTSTRAP": bootstrap, "IN_TOPIC": f"verified-{run}", "OUT_TOPIC": f"unique-{run}",
        "GROUP": f"dedup-{run}", "REJECTIONS_TOPIC": f"rejections-{run}", "MAX_POLL_RECORDS": "2",
        "REDIS_URL": redis_url, "NAMESPACE": f"faults-{run}", "METRICS_PORT": str(free_port()),
        "GRPC_PORT": str(free_port()),
    }.items()}  # fmt: skip


def out_count(bootstrap: str, run: str, out: str) -> int:
    """Records the service has sent on so far: outputs and rejections."""
    return len(keys(bootstrap, f"{out}-{run}", 800)) + len(keys(bootstrap, f"rejections-{run}", 800))


def stop(service) -> None:
    service.send_signal(signal.SIGTERM)
    assert service.wait(timeout=60) == 0


def test_redis_restarted_under_dedup(broker: KafkaBroker, sample_pages: list[Page], tmp_path: Path) -> None:
    run, b = uuid.uuid4().hex[:8], broker.bootstrap
    clusters = clusters_of_samples(sample_pages)
    everything = [s for cluster in clusters for s in cluster]
    produce(b, f"verified-{run}", [(s.id, s.model_dump_json().encode()) for s in everything[:12]])
    redis = RedisServer(tmp_path / "redis").start()
    env = dedup_env(b, run, redis.url)
    service = start("domainlm-dedup", env)
    try:
        restart_when_flowing(redis, b, run, "unique", f"verified-{run}", everything[12:])
        assert wait_for(lambda: out_count(b, run, "unique") >= len(everything), 180), "no recovery"
    finally:
        stop(service)
        redis.stop()
    kept, dropped = keys(b, f"unique-{run}"), keys(b, f"rejections-{run}")
    assert not [k for k, n in Counter(kept + dropped).items() if n > 1], "a record came out twice"
    assert sorted(kept + dropped) == sorted(s.id for s in everything), "a record was lost"
    for cluster in clusters:  # one member per cluster: no near-duplicate slipped past the restart
        assert len({s.id for s in cluster} & set(kept)) == 1
    assert drain(b, f"verified-{run}.dlq", 1000) == []


def test_postgres_restarted_under_review(
    broker: KafkaBroker, sample_pages: list[Page], tmp_path: Path
) -> None:
    run, b = uuid.uuid4().hex[:8], broker.bootstrap
    items = [s for cluster in clusters_of_samples(sample_pages) for s in cluster][:60]
    items = [s.model_copy(update={"review": ReviewState.PENDING}) for s in items]
    produce(b, f"generated-{run}", [(s.id, s.model_dump_json().encode()) for s in items[:12]])
    postgres = PostgresServer(tmp_path / "pg").start()
    env = {f"DOMAINLM_REVIEW_{k}": v for k, v in {
        "BOOTSTRAP": b, "IN_TOPIC": f"generated-{run}", "OUT_TOPIC": f"verified-{run}", "GROUP": f"review-{run}",
        "REJECTIONS_TOPIC": f"rejections-{run}", "MAX_POLL_RECORDS": "2", "DATABASE_URL": postgres.url,
        "REVIEW__POLICY": "auto", "GRPC_PORT": str(free_port()), "METRICS_PORT": str(free_port()),
        "HTTP__PORT": "0", "CHUNKS_TOPIC": "", "DOCUMENTS_TOPIC": f"documents-{run}",
    }.items()}  # fmt: skip
    service = start("domainlm-review", env)
    try:
        restart_when_flowing(postgres, b, run, "verified", f"generated-{run}", items[12:])
        assert wait_for(lambda: out_count(b, run, "verified") >= len(items), 180), "no recovery"
    finally:
        stop(service)
        postgres.stop()
    out = keys(b, f"verified-{run}") + keys(b, f"rejections-{run}")
    assert not [k for k, n in Counter(out).items() if n > 1], "a record came out twice"
    assert sorted(out) == sorted(s.id for s in items), "a record was lost"
    assert all(Sample.model_validate_json(r.value).is_verified for r in drain(b, f"verified-{run}", 1000))
    assert drain(b, f"generated-{run}.dlq", 1000) == []


def test_the_broker_restarted_under_dedup(
    redis_server: RedisServer, sample_pages: list[Page], tmp_path: Path
) -> None:
    # A broker of its own, so the session's stays up for the other tests.
    broker = KafkaBroker(tmp_path / "kafka").start()
    run, b = uuid.uuid4().hex[:8], broker.bootstrap
    clusters = clusters_of_samples(sample_pages)
    everything = [s for cluster in clusters for s in cluster]
    produce(b, f"verified-{run}", [(s.id, s.model_dump_json().encode()) for s in everything[:12]])
    env = dedup_env(b, run, redis_server.url)
    service = start("domainlm-dedup", env)
    try:
        assert first_output(b, [f"unique-{run}", f"rejections-{run}"], 120), "no output before the restart"
        broker.stop()
        time.sleep(AWAY_S)
        broker.start()
        produce(b, f"verified-{run}", [(s.id, s.model_dump_json().encode()) for s in everything[12:]])
        assert wait_for(lambda: out_count(b, run, "unique") >= len(everything), 240), "no recovery"
        stop(service)
        kept, dropped = keys(b, f"unique-{run}"), keys(b, f"rejections-{run}")
        assert not [k for k, n in Counter(kept + dropped).items() if n > 1], "a record came out twice"
        assert sorted(kept + dropped) == sorted(s.id for s in everything), "a record was lost"
        for cluster in clusters:
            assert len({s.id for s in cluster} & set(kept)) == 1
        assert drain(b, f"verified-{run}.dlq", 1000) == []
    finally:
        if service.poll() is None:
            service.kill()
        broker.stop()
