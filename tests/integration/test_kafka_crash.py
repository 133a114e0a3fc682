"""Crash: SIGKILL the generator and the dedup services mid-stream, restart them; downstream has every
record exactly once (Kafka transactions) and dedup's Redis index stays consistent with what was sent on.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections import Counter
from pathlib import Path

import pytest
from kafkautil import clusters_of_samples, drain, first_output, keys, produce, start, wait_for

from domainlm.childproc import free_port
from domainlm.chunking import StructureChunker
from domainlm.funnel import Funnel
from domainlm.records import Page
from domainlm.teacher import TeacherSettings
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.stores import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_sigkill_generator_and_dedup_mid_stream(
    broker: KafkaBroker, redis_server: RedisServer, vllm_teacher: TeacherSettings, sample_pages: list[Page],
    tmp_path: Path,
) -> None:  # fmt: skip
    run = uuid.uuid4().hex[:8]
    b = broker.bootstrap
    chunks = list(StructureChunker().run(sample_pages, Funnel()))
    clusters = clusters_of_samples(sample_pages)
    assert len(chunks) >= 8 and len(clusters) >= 30
    produce(b, f"chunks-{run}", [(c.id, c.model_dump_json().encode()) for c in chunks])
    everything = [s for cluster in clusters for s in cluster]
    produce(b, f"verified-{run}", [(s.id, s.model_dump_json().encode()) for s in everything])

    common = {"MAX_POLL_RECORDS": "2", "REJECTIONS_TOPIC": f"rejections-{run}"}
    gen_env = {f"DOMAINLM_GENERATOR_{k}": v for k, v in {
        **common, "BOOTSTRAP": b, "IN_TOPIC": f"chunks-{run}", "OUT_TOPIC": f"generated-{run}",
        "GROUP": f"gen-{run}", "METRICS_PORT": str(free_port()), "GRPC_PORT": str(free_port()),
        "TEACHER__BASE_URL": vllm_teacher.base_url, "TEACHER__MODEL": vllm_teacher.model,
        "TEACHER__MAX_TOKENS": str(vllm_teacher.max_tokens), "TEACHER__MAX_RETRIES": "1",
    }.items()}  # fmt: skip
    dedup_env = {f"DOMAINLM_DEDUP_{k}": v for k, v in {
        **common, "MAX_POLL_RECORDS": "1", "BOOTSTRAP": b, "IN_TOPIC": f"verified-{run},evolved-{run}",
        "OUT_TOPIC": f"unique-{run}", "GROUP": f"dedup-{run}", "REDIS_URL": redis_server.url,
        "NAMESPACE": f"crash-{run}", "METRICS_PORT": str(free_port()), "GRPC_PORT": str(free_port()),
    }.items()}  # fmt: skip

    def generated() -> list[str]:
        out = keys(b, f"generated-{run}", idle_ms=800) + keys(b, f"rejections-{run}", idle_ms=800)
        return [k for k in out if k.split(":")[0] in {c.id for c in chunks}]

    def unique() -> list[str]:
        return keys(b, f"unique-{run}", idle_ms=800)

    def dropped_ids() -> list[str]:  # dedup's rejections, keyed by sample id (the generator's by chunk)
        chunk_ids = {c.id for c in chunks}
        return [k for k in keys(b, f"rejections-{run}", idle_ms=800) if k.split(":")[0] not in chunk_ids]

    # Each is killed as soon as its first output is committed: mid-stream, with batches in flight.
    for command, env, topics in (("domainlm-dedup", dedup_env, [f"unique-{run}"]),
                                 ("domainlm-generator", gen_env, [f"generated-{run}", f"rejections-{run}"])):  # fmt: skip
        proc = start(command, env)
        try:
            assert first_output(b, topics, 180), f"{command}: no output before the crash"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert len(set(unique())) < len(clusters), "the dedup crash should have come mid-stream"
    assert not _chunks_done(drain(b, f"generated-{run}") + drain(b, f"rejections-{run}"), chunks)

    second = [start("domainlm-generator", gen_env), start("domainlm-dedup", dedup_env)]
    try:
        wait_for(lambda: len(unique()) + len(dropped_ids()) >= len(everything), 240)
        wait_for(
            lambda: _chunks_done(
                drain(b, f"generated-{run}", 800) + drain(b, f"rejections-{run}", 800), chunks
            ),
            300,
        )
    finally:
        for proc in second:
            proc.send_signal(signal.SIGTERM)
        assert [proc.wait(timeout=60) for proc in second] == [0, 0]

    # dedup: one member per cluster goes on, every other is rejected as its duplicate, each record once.
    kept = unique()
    dropped = dropped_ids()
    assert not _repeated(kept) and not _repeated(dropped)
    assert sorted(kept + dropped) == sorted(s.id for s in everything)
    for cluster in clusters:
        assert len({s.id for s in cluster} & set(kept)) == 1
    # generator: every chunk accounted for, no output twice although two batches were cut off.
    outputs = generated()
    assert not _repeated(outputs), Counter(outputs).most_common(3)
    assert _chunks_done(drain(b, f"generated-{run}") + drain(b, f"rejections-{run}"), chunks)


def _repeated(items: list[str]) -> list[str]:
    return [k for k, n in Counter(items).items() if n > 1]


def _chunks_done(records, chunks) -> bool:
    """Every chunk has an output: a sample (its provenance) or a rejection (keyed chunk id[:item])."""
    seen = set()
    for r in records:
        value = json.loads(r.value)
        seen.add(value["provenance"]["chunk_id"] if "provenance" in value else r.key.decode().split(":")[0])
    return {c.id for c in chunks} <= seen
