"""`domainlm run` end to end on a real policy PDF, with the LLM teacher it starts itself (vLLM on CPU),
through the datasets (`--until export`; the whole loop is test_whole_loop.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import datasets
import pytest

from corpus import ROOT, corpus_pdf
from domainlm.jsonl import read_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = str(ROOT / ".venv" / "bin" / "domainlm")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [CLI, "run", "--source", "llm", "--until", "export", *args],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def test_run_on_corpus_05_end_to_end_and_resume(tmp_path) -> None:
    pdf = corpus_pdf("05")
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(pdf, inbox / pdf.name)
    (inbox / "notes.pdf").write_text("this is not a PDF")  # bad input in the same batch
    out = tmp_path / "out"

    first = run("--input", str(inbox), "--output", str(out), "--concurrency", "16")
    pages = list(read_rows(out / "pages.jsonl"))
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    assert all(p["source"] == str(inbox / pdf.name) and len(p["doc_id"]) == 64 for p in pages)
    rejected = list(read_rows(out / "rejections" / "extract.jsonl"))
    assert [(r["reason"], r["record_id"]) for r in rejected] == [("not-a-pdf", str(inbox / "notes.pdf"))]

    funnel = json.loads((out / "funnel.json").read_text())
    for stage in ("extract", "chunk", "generate", "review", "dedup", "pairs"):
        assert stage in funnel, stage
    chunks = (out / "chunks.jsonl").read_text().count("\n")
    assert chunks > 0 and funnel["generate"]["in"] == chunks
    # Nothing disappears: every generate rejection is in the report with its reason.
    gen_rejections = (
        (out / "rejections" / "generate.jsonl").read_text().count("\n")
        if funnel["generate"]["rejected"]
        else 0
    )
    assert gen_rejections == sum(funnel["generate"]["rejected"].values())
    assert (out / "report.md").read_text().startswith("# domainlm run report") and (
        out / "funnel.png"
    ).stat().st_size > 1000
    for name in ("sft", "dpo"):  # the exports exist and load (they may be empty with a random-weight teacher)
        path = out / "export" / f"{name}.jsonl"
        assert path.exists()
        if path.stat().st_size:
            datasets.load_dataset("json", data_files=str(path), split="train")
    assert "starting vLLM" in first.stderr

    # Re-run: finished documents and teacher calls are skipped; no teacher is started at all.
    start = time.monotonic()
    second = run("--input", str(inbox), "--output", str(out))
    assert "already extracted" in second.stderr and "skipped" in second.stderr
    assert "starting vLLM" not in second.stderr
    assert json.loads((out / "funnel.json").read_text()) == funnel
    assert time.monotonic() - start < 60
