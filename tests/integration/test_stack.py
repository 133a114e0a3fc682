"""`domainlm stack up / status / down`: the whole topology as local processes, a PDF through it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafkautil import keys, values

from corpus import ROOT, SAMPLE_POLICY
from domainlm.teacher import TeacherSettings
from domainlm_chassis.stack import SERVICES, TOPICS, read_state

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = str(ROOT / ".venv" / "bin" / "domainlm")


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_stack_up_runs_a_document_through_every_service_then_down(
    vllm_teacher: TeacherSettings, tmp_path: Path
) -> None:
    stack = tmp_path / "stack"
    up = cli("stack", "up", "--dir", str(stack), "--teacher-url", vllm_teacher.base_url,
             "--teacher-model", vllm_teacher.model, "--replicas", "generator=2")  # fmt: skip
    assert up.returncode == 0, up.stderr[-3000:]
    state = read_state(stack)
    assert state is not None
    try:
        running = cli("stack", "status", "--dir", str(stack))
        lines = dict(line.split()[:2] for line in running.stdout.splitlines())
        services = {f"{s}-1" for s in SERVICES} | {"generator-2"}
        assert {n: lines[n] for n in services} == dict.fromkeys(services, "serving"), running.stdout
        assert {lines[n] for n in ("kafka", "redis", "postgres")} == {"running"}
        assert cli("stack", "up", "--dir", str(stack)).returncode == 1  # one stack per directory

        bootstrap = state["bootstrap"]
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:  # every topic of the stream and its DLQ was created on the broker
            assert set(admin.list_topics()) >= set(TOPICS) >= {"documents", "chunks", "rejections"}
        finally:
            admin.close()
        assert cli("submit", str(SAMPLE_POLICY), "--bootstrap", bootstrap).returncode == 0
        # The ocr service chunks it; the generator replicas ask the teacher about every chunk (the tiny
        # model's answers are rejected by the faithfulness check, each with its reason).
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            chunks = set(keys(bootstrap, "chunks", 1000))
            done = {r["record_id"].split(":")[0] for r in values(bootstrap, "rejections", 1000)}
            done |= {s["provenance"]["chunk_id"] for s in values(bootstrap, "samples.generated", 1000)}
            if chunks and chunks <= done:
                break
            time.sleep(2)
        assert chunks and chunks <= done, f"{len(chunks - done)} of {len(chunks)} chunks not generated for"
        assert keys(bootstrap, "documents.dlq", 1000) == []
    finally:
        down = cli("stack", "down", "--dir", str(stack))
    assert down.returncode == 0, down.stderr
    after = cli("stack", "status", "--dir", str(stack))
    assert set(line.split()[1] for line in after.stdout.splitlines()) == {"down"}, after.stdout
    assert json.loads((stack / "state.json").read_text())["processes"].keys() >= services
