"""Evaluation, the gate and publishing on CPU: a tiny model trained briefly beats its untrained base on
held-out QA from sections kept out of training → published as v0001 → served by the real vLLM server
under one public name → a weaker model is refused by the gate (it beats its base, not the published
model) → forced in as v0002, the server restarted on it under the same name → rolled back to v0001."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from corpus import ROOT
from domainlm.childproc import free_port
from domainlm.tinymodel import build_tiny_model
from domainlm.training import SftSettings
from domainlm.training.evaluate import evaluate_model, split_held_out
from domainlm.training.publish import PublishRefused, Registry, publish, serve_current, stop_recorded
from domainlm.training.sft import train_sft

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME = "domain-insure"
POLICY = ROOT / "examples" / "sample-policy.txt"


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _export() -> list[dict[str, Any]]:
    """The factory's SFT export shape from the sample policy: a question on each line of each article
    (조), with the article as its section, so the split holds whole articles out."""
    rows: list[dict[str, Any]] = []
    article: re.Match[str] | None = None
    n = 0
    for line in POLICY.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if m := re.match(r"^(제\d+조)\((.+)\)$", line):
            article, n = m, 0
            continue
        if not line or article is None or re.match(r"^제\d+관", line):
            continue
        n += 1
        question = f"{article.group(1)}({article.group(2)})의 {n}번째 내용은 무엇인가요?"
        rows.append(
            {
                "id": f"s{len(rows)}",
                "kind": "qa",
                "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": line}],
                "review": "approved",
                "provenance": {"doc_id": "sample-policy", "source": POLICY.name, "pages": [1],
                               "section": article.group(1), "chunk_id": article.group(1)},
            }
        )  # fmt: skip
    return rows


def _train(base: Path, data: Path, output: Path, steps: int) -> Path:
    result = train_sft(
        SftSettings(
            model=base, data=data, output=output, epochs=100, max_steps=steps, lr=1e-3, batch_size=16,
            lr_scheduler="constant", warmup_ratio=0.0, save_steps=1000, logging_steps=100, max_length=256,
            progress=False,
        )
    )  # fmt: skip
    assert result.global_step == steps
    return result.output


def _served(port: int) -> dict[str, Any]:
    r = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10)
    r.raise_for_status()
    [model] = r.json()["data"]
    return dict(model)


def test_trained_model_passes_the_gate_is_served_and_rolls_back(tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    rows = _export()
    train_rows, held_rows = split_held_out(rows, 0.2, by="section")
    held_sections = {r["provenance"]["section"] for r in held_rows}
    assert len(rows) > 40 and len(held_rows) >= 0.2 * len(rows) and held_sections
    assert held_sections.isdisjoint({r["provenance"]["section"] for r in train_rows})
    data = _write(tmp_path / "train.jsonl", train_rows)
    held = _write(tmp_path / "held_out.jsonl", held_rows)

    base = build_tiny_model(tmp_path / "base", [POLICY.read_text(encoding="utf-8")], vocab_size=1000)
    good = _train(base, data, tmp_path / "good", steps=24)
    weak = _train(base, data, tmp_path / "weak", steps=4)
    timings["train"] = time.monotonic() - t0

    # The trained model knows the held-out documents' answers better than its untrained base does.
    before, after = evaluate_model(base, held), evaluate_model(good, held, generate=True, max_new_tokens=32)
    print(
        f"held-out perplexity: base {before.metrics['perplexity']:.1f} -> trained {after.metrics['perplexity']:.1f}"
    )
    assert after.score() > before.score() + 0.2
    assert after.metrics["perplexity"] < 0.75 * before.metrics["perplexity"]

    reg_dir = tmp_path / "registry"
    reg = Registry(reg_dir, NAME)
    first = publish(good, reg_dir, NAME, held)  # the base comes from good/train_summary.json
    assert first.version == "v0001" and first.gate.passed and first.gate.against[0].label == "base"
    assert json.loads((reg_dir / NAME / "v0001" / "eval.json").read_text())["questions"] == len(held_rows)

    # The weak model beats its base but not the published v0001: refused, nothing changes.
    with pytest.raises(PublishRefused, match="v0001") as refused:
        publish(weak, reg_dir, NAME, held)
    print(refused.value)
    assert reg.versions() == ["v0001"] and reg.current_version() == "v0001"
    timings["eval+gate"] = time.monotonic() - t0 - timings["train"]

    port, pidfile = free_port(), tmp_path / "vllm.pid.json"
    try:
        t1 = time.monotonic()
        server = serve_current(reg_dir, NAME, port, pidfile=pidfile, log_path=tmp_path / "vllm1.log",
                               enforce_eager=True)  # fmt: skip
        timings["serve v0001"] = time.monotonic() - t1
        served = _served(port)
        assert served["id"] == NAME and Path(served["root"]).name == "v0001"
        r = httpx.post(
            f"{server.base_url}/chat/completions",
            json={
                "model": NAME,
                "messages": held_rows[0]["messages"][:1],
                "temperature": 0,
                "max_tokens": 16,
            },
            timeout=60,
        )
        assert r.status_code == 200 and r.json()["model"] == NAME

        # Forced in as v0002 and served under the same name (the server restarted from the pidfile) ...
        forced = publish(weak, reg_dir, NAME, held, force=True)
        assert forced.version == "v0002" and forced.forced
        t1 = time.monotonic()
        serve_current(
            reg_dir, NAME, port, pidfile=pidfile, log_path=tmp_path / "vllm2.log", enforce_eager=True
        )
        timings["restart v0002"] = time.monotonic() - t1
        served = _served(port)
        assert served["id"] == NAME and Path(served["root"]).name == "v0002"

        # ... then rolled back: v0001 is current again. (Restarting the server on it is the restart
        # just proved; a third vLLM start would take the test past its three minutes on 2 cores.)
        assert reg.rollback()["version"] == "v0001"
        assert reg.current_path() == reg_dir / NAME / "v0001" and reg.withdrawn() == {"v0002"}
    finally:
        stop_recorded(pidfile)
    assert [e["action"] for e in reg.history()] == ["publish", "publish", "rollback"]
    print({k: round(v, 1) for k, v in timings.items()}, f"total {time.monotonic() - t0:.1f}s")
