"""Crash: SIGKILL the generator and the dedup services mid-stream, restart them; downstream has every
record exactly once (Kafka transactions) and dedup's Redis index stays consistent with what was sent on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from kafkautil import drain, keys, produce

from corpus import ROOT
from domainlm.childproc import free_port
from domainlm.chunking import StructureChunker
from domainlm.dedup import MinhashConfig, NearDuplicateIndex
from domainlm.funnel import Funnel
from domainlm.records import Page, Provenance, ReviewState, Sample, SampleKind
from domainlm.teacher import TeacherSettings
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.stores import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BIN = ROOT / ".venv" / "bin"


def clusters_of_samples(pages: list[Page]) -> list[list[Sample]]:
    """Distinct clause sentences, each with two edited copies: one cluster per sentence."""
    sentences = {
        s.strip() for p in pages for s in re.split(r"(?<=[다요])\.\s", p.text) if 40 <= len(s.strip()) <= 300
    }
    bases = sorted(sentences)
    # Keep only sentences that are not near-duplicates of one another, so the clusters are known.
    distinct = NearDuplicateIndex(MinhashConfig()).add_batch(bases, bases)
    bases = [b for b, m in zip(bases, distinct, strict=True) if m is None][:60]
    prov = Provenance(doc_id="d", source="s.pdf", pages=[1], section="제1조", chunk_id="c")

    def sample(text: str) -> Sample:
        q = "다음 조항의 내용은?"
        return Sample(id=Sample.make_id("c", "qa", q, text), kind=SampleKind.QA, instruction=q, output=text,
                      provenance=prov, review=ReviewState.APPROVED)  # fmt: skip

    return [
        [sample(b), sample(b + " 이 경우에도 같습니다."), sample(b.replace(" ", "  ", 1) + ".")]
        for b in bases
    ]


def start(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(BIN / command)], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def first_output(bootstrap: str, topics: list[str], timeout: float) -> bool:
    watcher = KafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                            isolation_level="read_committed")  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if watcher.poll(timeout_ms=100):
                return True
        return False
    finally:
        watcher.close()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


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
