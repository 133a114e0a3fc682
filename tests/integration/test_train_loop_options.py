"""The run's training half with its options, on the sample policy's structure items: a held-out split
too small to evaluate trains and publishes nothing and says why; a given base model, a base chosen
among candidates by held-out score, and an external question set evaluated beside the held-out one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus import SAMPLE_POLICY
from domainlm.jsonl import read_models
from domainlm.records import Page
from domainlm.runner import PipelineRun, RunSettings
from domainlm.tinymodel import build_tiny_model
from domainlm.trainloop import LoopSettings, TrainLoop

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loop") / "run"
    PipelineRun([SAMPLE_POLICY], out, RunSettings(source="structure"), progress=False).run()
    return out


def loop(out: Path, **settings: object) -> dict:
    corpus = lambda: (p.text for p in read_models(out / "pages.jsonl", Page))  # noqa: E731
    fast = {"tiny_epochs": 3.0, "tiny_dpo_epochs": 1.0, "serve": False}
    return TrainLoop(out, LoopSettings(**{**fast, **settings}), corpus, print).run()


def test_a_held_out_split_too_small_trains_and_publishes_nothing(factory: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / "export").mkdir(parents=True)
    for name in ("sft", "dpo", "pages"):
        src = factory / ("pages.jsonl" if name == "pages" else f"export/{name}.jsonl")
        (out / ("pages.jsonl" if name == "pages" else f"export/{name}.jsonl")).write_bytes(src.read_bytes())
    summary = loop(out, min_held_out=1000)
    assert summary["published"]["published"] is False
    assert summary["published"]["reason"].startswith("held-out split too small to evaluate")
    assert summary["eval"] == {"skipped": summary["published"]["reason"]}
    assert not (out / "train" / "sft").exists() and not (out / "registry").exists()


def test_base_candidates_are_chosen_by_held_out_score_and_an_eval_set_is_scored(
    factory: Path, tmp_path: Path
) -> None:
    texts = [p.text for p in read_models(factory / "pages.jsonl", Page)]
    good = build_tiny_model(tmp_path / "cand-a", texts)
    other = build_tiny_model(tmp_path / "cand-b", texts, seed=7)
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps([
        {"question": "청약은 언제까지 철회할 수 있나요?", "answer": "보험증권을 받은 날부터 15일 이내에 철회할 수 있습니다. (제11조 ①항)"},
        {"question": "보험금은 언제 지급하나요?", "answer": "서류를 접수한 날부터 3영업일 이내에 지급합니다."},
    ], ensure_ascii=False))  # fmt: skip
    summary = loop(factory, base_candidates=[str(good), str(other)], eval_set=questions)
    chosen = json.loads((factory / "train" / "select-base.json").read_text())
    assert summary["base"]["chosen"] == "selected" and summary["base"]["path"] in (str(good), str(other))
    assert len(chosen["candidates"]) == 2
    assert set(summary["eval"]["eval_set"]) == {"base", "sft", "dpo"}
    assert all(m["questions"] == 2 for m in summary["eval"]["eval_set"].values())
    assert set(summary["eval"]["held_out"]["sft"]) >= {"perplexity", "char_f1", "rouge_l"}


def test_a_given_base_model_is_used_as_is(factory: Path, tmp_path: Path) -> None:
    base = build_tiny_model(tmp_path / "given", [p.text for p in read_models(factory / "pages.jsonl", Page)])
    out = tmp_path / "run"
    (out / "export").mkdir(parents=True)
    for name in ("export/sft.jsonl", "export/dpo.jsonl", "pages.jsonl"):
        (out / name).write_bytes((factory / name).read_bytes())
    summary = loop(out, base_model=base)
    assert summary["base"] == {"path": str(base), "chosen": "given"}
    assert json.loads((out / "train" / "sft" / "train_summary.json").read_text())["settings"]["model"] == str(
        base
    )
