"""The teacher killed mid-generate and started again: the run stops as incomplete (exit 3) with what is
left, the same command then finishes, and every chunk was generated exactly once: nothing lost, nothing
asked of the teacher twice."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from corpus import ROOT, SAMPLE_POLICY
from domainlm.childproc import free_port
from domainlm.vllm_server import VllmServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = str(ROOT / ".venv" / "bin" / "domainlm")


def ledger_keys(out: Path) -> list[str]:
    path = out / "ledger" / "generate.jsonl"
    return (
        [json.loads(line)["key"] for line in path.read_text(encoding="utf-8").split("\n") if line]
        if path.exists()
        else []
    )


def test_the_teacher_killed_mid_generate_and_restarted(tiny_model: Path, tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "run"
    command = [CLI, "run", "--input", str(SAMPLE_POLICY), "--output", str(out), "--source", "llm",
               "--until", "export", "--evolve-depth", "0", "--concurrency", "2",
               "--teacher-url", f"http://127.0.0.1:{port}/v1", "--teacher-model", "tiny-teacher"]  # fmt: skip
    teacher = VllmServer(
        tiny_model, "tiny-teacher", port=port, log_path=tmp_path / "vllm.log", enforce_eager=True
    )
    teacher.start()
    try:
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while len(ledger_keys(out)) < 2 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        done_before = len(ledger_keys(out))
        teacher.stop()  # mid-generate: some chunks done, the rest in flight or waiting
        _, err = run.communicate(timeout=600)
        assert run.returncode == 3, err[-2000:]
        assert "teacher-" in err and "resumes" in err.strip().splitlines()[-1]
        chunks = (out / "chunks.jsonl").read_text().count("\n")
        assert done_before >= 2 and len(ledger_keys(out)) < chunks, "the teacher went away mid-generate"
        teacher.start()  # the same port: the same command finds it again
        again = subprocess.run(command, capture_output=True, text=True, timeout=900)
        assert again.returncode == 0, again.stderr[-2000:]
    finally:
        teacher.stop()
    keys = ledger_keys(out)
    assert len(keys) == chunks, "every chunk generated"
    assert not [k for k, n in Counter(keys).items() if n > 1], "a chunk was generated twice"
    funnel = json.loads((out / "funnel.json").read_text())["generate"]
    assert funnel["in"] == chunks and not [r for r in funnel["rejected"] if r.startswith("teacher-")]
