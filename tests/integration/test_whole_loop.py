"""The README's main command, the whole loop: policy PDFs in → structure-grounded items (no LLM, no model
hub) → checked, deduplicated SFT and DPO datasets → a tiny local base model → SFT → DPO → evaluation →
the gate → a published v0001 → served by the real vLLM server, which is asked held-out questions.
Checked on the sample policy, corpus 05 and a 5-page excerpt of corpus 13; a letter with no policy
structure runs to the end and says why nothing was published. The report opens in real Chromium."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium
from pypdf import PdfReader, PdfWriter

from corpus import ROOT, SAMPLE_POLICY, corpus_pdf
from domainlm.extract.scans import typeset, write_image_pdf
from domainlm.jsonl import read_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = str(ROOT / ".venv" / "bin" / "domainlm")
SUMMARY_KEYS = {"version", "counts", "stages", "source", "teachers", "coverage", "training", "eval", "published",
                "served", "seconds", "peak_memory_mib"}  # fmt: skip


def run(inputs: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run([CLI, "run", "--input", str(inputs), "--output", str(out), *extra],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    # The last line points at the summary, which holds stable keys.
    assert proc.stdout.strip().splitlines()[-1] == f"summary: {out / 'summary.json'}"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    return proc, summary


def assert_published_and_served(
    proc: subprocess.CompletedProcess[str], summary: dict[str, Any], out: Path
) -> None:
    for name in ("sft", "dpo"):
        assert list(read_rows(out / "export" / f"{name}.jsonl")), f"{name}.jsonl is empty"
    assert summary["source"] == "structure" and summary["teachers"]["structure"]["kept_qa"] > 0
    held = summary["eval"]["held_out"]
    final = "dpo" if "dpo" in held else "sft"
    # The published model beats its base on the held-out questions, on every measure.
    assert held[final]["perplexity"] < held["base"]["perplexity"], held
    assert held[final]["char_f1"] > held["base"]["char_f1"], held
    pub = summary["published"]
    assert pub["published"] and pub["version"] == "v0001" and pub["name"] == "domainlm", pub
    assert Path(pub["path"], "config.json").exists()
    answers = summary["served"]["answers"]
    assert len(answers) == 3 and all(a["question"] and a["expected"] for a in answers)
    assert proc.stderr.count("served model:") == 3 and "published domainlm v0001" in proc.stderr
    training = summary["training"]
    assert training["sft"]["last_loss"] < training["sft"]["first_loss"]  # the demo settings learn


def test_the_main_command_on_the_sample_policy_and_its_report_in_chromium(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc, summary = run(SAMPLE_POLICY.parent, out)
    assert_published_and_served(proc, summary, out)
    cov = summary["coverage"]
    assert cov["article_share"] >= 0.95 and cov["duplicate_questions"] == 0
    assert summary["peak_memory_mib"]["process"] < 8 * 1024 and summary["peak_memory_mib"]["vllm_server"] > 0
    for step in ("extract", "generate", "sft", "dpo", "evaluate", "serve"):
        assert step in summary["seconds"], step
    report = out / "report.html"
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.alt, e.complete && e.naturalWidth > 0])"
        )
        text = page.inner_text("body")
    assert not errors, errors
    assert {alt for alt, _ in images} >= {"survival funnel", "SFT loss curve", "DPO loss curve"}
    assert all(ok for _, ok in images), images
    assert "Published domainlm v0001" in text and "served model" in text and "held-out questions" in text
    md = (out / "report.md").read_text()
    assert "## Training, evaluation and publication" in md and "sft-loss.png" in md

    # Re-running resumes stage by stage: no document read again, no model trained again.
    again = subprocess.run([CLI, "run", "--input", str(SAMPLE_POLICY.parent), "--output", str(out), "--until", "publish"],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already extracted" in again.stderr and "train_runtime" not in again.stderr
    assert json.loads((out / "summary.json").read_text())["published"]["version"] == "v0001"

    # --serve leaves the published model's endpoint up, prints how to query it, and stops on Ctrl-C.
    serving = subprocess.Popen([CLI, "run", "--input", str(SAMPLE_POLICY.parent), "--output", str(out), "--serve"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert serving.stderr is not None
        curl = next(line for line in serving.stderr if line.strip().startswith("curl "))
        base_url = curl.split()[1].removesuffix("/chat/completions")
        reply = httpx.post(f"{base_url}/chat/completions", timeout=60, json={
            "model": "domainlm", "messages": [{"role": "user", "content": "보험금은 언제 지급하나요?"}], "max_tokens": 16})  # fmt: skip
        assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"]
    finally:
        serving.send_signal(signal.SIGINT)
        rest, _ = serving.communicate(timeout=60)
    assert serving.returncode == 0 and rest.strip().splitlines()[-1] == f"summary: {out / 'summary.json'}"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/models", timeout=5)


def test_corpus_05_and_an_excerpt_of_corpus_13(tmp_path: Path) -> None:
    pdf13 = corpus_pdf("13")
    excerpt = tmp_path / "13-excerpt" / "pet-terms-p15-19.pdf"
    excerpt.parent.mkdir()
    writer = PdfWriter()
    for page in PdfReader(pdf13).pages[14:19]:
        writer.add_page(page)
    with excerpt.open("wb") as f:
        writer.write(f)
    for name, source in (("05", corpus_pdf("05")), ("13", excerpt.parent)):
        out = tmp_path / name
        proc, summary = run(source, out)
        assert_published_and_served(proc, summary, out)
        assert summary["coverage"]["article_share"] >= 0.95, (name, summary["coverage"])


def test_a_letter_runs_to_the_end_and_says_what_could_not_be_done(tmp_path: Path) -> None:
    letter = "안녕하세요, 고객님.\n지난주에 문의하신 보험료 납입 방법을 안내해 드립니다.\n자동이체를 원하시면 가까운 지점을 방문해 주십시오.\n감사합니다."
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_image_pdf([p.image for p in typeset(letter)], inbox / "letter.pdf")
    out = tmp_path / "out"
    proc, summary = run(inbox, out)
    assert summary["counts"]["documents"] == 1 and summary["coverage"]["articles"] == 0
    assert "no articles" in summary["teachers"]["structure"]["note"]
    assert summary["published"] == {"published": False, "reason": summary["published"]["reason"]}
    assert summary["published"]["reason"]
    assert "not published" in proc.stderr
    html = (out / "report.html").read_text()
    assert "Nothing published" in html and "no articles" in html
