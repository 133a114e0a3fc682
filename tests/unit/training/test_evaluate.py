"""Held-out evaluation: the provenance split, the scoring arithmetic on a fake model, the character
overlap metrics, the question formats, a tiny real model end to end, and base-model selection."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from domainlm.tinymodel import build_tiny_model
from domainlm.training.evaluate import (
    EVAL_FILE,
    EvalReport,
    ItemScore,
    aggregate,
    answer_token_logprobs,
    char_f1,
    eval_item,
    evaluate_model,
    held_out_groups,
    load_eval,
    provenance_group,
    rouge_l,
    score_items,
    split_held_out,
)
from domainlm.training.select import candidates_from, select_base


def _row(i: int, doc: str, section: str) -> dict[str, Any]:
    return {
        "id": f"s{i}",
        "messages": [{"role": "user", "content": f"질문 {i}"}, {"role": "assistant", "content": f"답 {i}"}],
        "provenance": {"doc_id": doc, "section": section},
    }


def _export() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for d in range(4):
        for s in range(5):
            rows += [_row(len(rows), f"doc{d}", f"제{s}조") for _ in range(2)]
    return rows


# ---------------------------------------------------------------- split


def test_split_keeps_each_section_on_one_side_and_is_deterministic() -> None:
    rows = _export()
    train, held = split_held_out(rows, 0.2)
    assert len(train) + len(held) == len(rows)
    assert 0.2 * len(rows) <= len(held) < 0.2 * len(rows) + 2
    assert {provenance_group(r) for r in train}.isdisjoint({provenance_group(r) for r in held})
    # Same export in another order: the same rows held out.
    _train2, held2 = split_held_out(list(reversed(rows)), 0.2)
    assert {r["id"] for r in held2} == {r["id"] for r in held}
    # Another seed: another choice of sections (with 20 sections, almost surely).
    assert {r["id"] for r in split_held_out(rows, 0.2, seed="other")[1]} != {r["id"] for r in held}


def test_split_by_document_holds_whole_documents_out() -> None:
    rows = _export()
    train, held = split_held_out(rows, 0.2, by="doc")
    held_docs = {r["provenance"]["doc_id"] for r in held}
    assert len(held_docs) == 1 and len(held) == 10
    assert held_docs.isdisjoint({r["provenance"]["doc_id"] for r in train})


def test_split_edges() -> None:
    rows = _export()
    assert split_held_out(rows, 0.0)[1] == []
    # One group only: nothing can be held out without leaving training empty.
    same = [_row(i, "d", "s") for i in range(5)]
    assert held_out_groups(same, 0.5) == set()
    # A huge share still leaves one group to train on.
    train, _held = split_held_out(rows, 0.99, by="doc")
    assert len({r["provenance"]["doc_id"] for r in train}) == 1
    with pytest.raises(ValueError):
        split_held_out(rows, 1.0)
    # Rows without provenance fall into groups of their own.
    assert provenance_group({"id": "x", "messages": []}) == "row:x"


# ---------------------------------------------------------------- character metrics


def test_char_f1_and_rouge_l() -> None:
    ref = "3영업일 이내에 지급합니다."
    assert char_f1(ref, ref) == 1.0 and rouge_l(ref, ref) == 1.0
    assert char_f1("3영업일이내에지급합니다.", ref) == 1.0  # whitespace does not count
    assert char_f1("", ref) == 0.0 and rouge_l("xyz", ref) == 0.0
    assert char_f1("", "") == 1.0
    # Same characters, other order: full bag overlap, partial subsequence.
    assert char_f1("가나다", "다나가") == 1.0
    assert rouge_l("가나다", "다나가") == pytest.approx(1 / 3)
    # precision 2/4, recall 2/2 -> F1 2/3
    assert char_f1("가나라마", "가나") == pytest.approx(2 / 3)
    assert rouge_l("가x나y", "가나") == pytest.approx(2 / 3)


# ---------------------------------------------------------------- scoring arithmetic on a fake model

USER, ASSISTANT, START, END, NL = 1, 2, 3, 4, 5
VOCAB = 50


class FakeTokenizer:
    """One id per character (ord % 40 + 10); a ChatML-like template: START role ... END NL."""

    eos_token_id = END
    pad_token_id = 0

    def apply_chat_template(
        self, messages: list[dict], tokenize: bool = True, add_generation_prompt: bool = False
    ):
        ids: list[int] = []
        for m in messages:
            ids += [START, USER if m["role"] == "user" else ASSISTANT]
            ids += [ord(c) % 40 + 10 for c in m["content"]] + [END, NL]
        if add_generation_prompt:
            ids += [START, ASSISTANT]
        return ids


class UniformModel:
    def __call__(self, input_ids: torch.Tensor) -> Any:
        return SimpleNamespace(logits=torch.zeros(1, input_ids.shape[1], VOCAB))


class OracleModel:
    """Puts logit `boost` on the true next token of the sequence it is given."""

    def __init__(self, boost: float) -> None:
        self.boost = boost

    def __call__(self, input_ids: torch.Tensor) -> Any:
        logits = torch.zeros(1, input_ids.shape[1], VOCAB)
        for t in range(input_ids.shape[1] - 1):
            logits[0, t, int(input_ids[0, t + 1])] = self.boost
        return SimpleNamespace(logits=logits)


PROMPT = [{"role": "user", "content": "언제?"}]


def test_answer_tokens_are_the_answer_and_its_end_token() -> None:
    logps = answer_token_logprobs(UniformModel(), FakeTokenizer(), PROMPT, "3일")
    # "3", "일", END; the template's trailing newline is not the answer's.
    assert len(logps) == 3
    assert all(x == pytest.approx(-math.log(VOCAB)) for x in logps)


def test_uniform_model_has_perplexity_of_the_vocabulary() -> None:
    items = [eval_item(_row(i, "d", "s")) for i in range(3)]
    scores = score_items(UniformModel(), FakeTokenizer(), [i for i in items if i])
    metrics = aggregate(scores)
    assert metrics["logprob_per_token"] == pytest.approx(-math.log(VOCAB))
    assert metrics["perplexity"] == pytest.approx(VOCAB)
    # "답 i": 3 tokens + END = 4 tokens, 2 characters without the space.
    assert [s.tokens for s in scores] == [4, 4, 4] and [s.chars for s in scores] == [2, 2, 2]
    assert metrics["logprob_per_char"] == pytest.approx(-2 * math.log(VOCAB))


def test_oracle_model_scores_exactly() -> None:
    boost = 5.0
    expected = boost - math.log(math.exp(boost) + VOCAB - 1)
    logps = answer_token_logprobs(OracleModel(boost), FakeTokenizer(), PROMPT, "보험")
    assert logps == pytest.approx([expected] * 3)
    better = aggregate(score_items(OracleModel(boost), FakeTokenizer(), [eval_item(_row(0, "d", "s"))]))
    worse = aggregate(score_items(UniformModel(), FakeTokenizer(), [eval_item(_row(0, "d", "s"))]))
    assert better["logprob_per_char"] > worse["logprob_per_char"]
    assert better["perplexity"] < worse["perplexity"]


def test_aggregate_pools_tokens() -> None:
    scores = [ItemScore("a", 1, 1, -1.0), ItemScore("b", 3, 6, -9.0)]
    m = aggregate(scores)
    assert m["logprob_per_token"] == pytest.approx(-10 / 4)
    assert m["logprob_per_char"] == pytest.approx(-10 / 7)
    assert m["perplexity"] == pytest.approx(math.exp(2.5))
    assert "char_f1" not in m


# ---------------------------------------------------------------- question formats


def test_eval_items_from_sft_and_sample_rows(tmp_path: Path) -> None:
    sample = {
        "id": "m1",
        "kind": "mcq",
        "instruction": "해지환급금은?",
        "output": "",
        "choices": ["없음", "있음"],
        "answer_index": 1,
        "provenance": {"doc_id": "d", "source": "s", "pages": [1], "section": "제1조", "chunk_id": "c"},
    }
    item = eval_item(sample)
    assert item is not None and item.reference == "② 있음" and "① 없음" in item.prompt[0]["content"]
    sys_row = {"messages": [{"role": "system", "content": "보험"}, *_row(0, "d", "s")["messages"]]}
    sft = eval_item(sys_row)
    assert sft is not None and len(sft.prompt) == 2 and sft.reference == "답 0"
    assert eval_item({"messages": [{"role": "user", "content": "?"}]}) is None
    path = tmp_path / "held.jsonl"
    path.write_text(json.dumps(sample, ensure_ascii=False) + "\n" + json.dumps({"x": 1}) + "\n")
    with pytest.raises(ValueError, match="row 2"):
        load_eval(path)


# ---------------------------------------------------------------- a tiny real model


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    corpus = ["보험금 지급 제1조 청약 철회", "질문 답 0 1 2 3"]
    a = build_tiny_model(root / "a", corpus, vocab_size=400, hidden_size=64, layers=1, seed=1)
    b = build_tiny_model(root / "b", corpus, vocab_size=400, hidden_size=64, layers=1, seed=2)
    return a, b


def test_evaluate_tiny_model_writes_report(tiny_pair: tuple[Path, Path], tmp_path: Path) -> None:
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps(_row(i, "d", "s"), ensure_ascii=False) + "\n" for i in range(3)))
    report = evaluate_model(tiny_pair[0], held, generate=True, max_new_tokens=4)
    assert report.questions == 3 and len(report.items) == 3
    assert report.metrics["perplexity"] == pytest.approx(math.exp(-report.metrics["logprob_per_token"]))
    assert 0.0 <= report.metrics["char_f1"] <= 1.0 and "rouge_l" in report.metrics
    saved = report.save(tmp_path)
    assert saved.name == EVAL_FILE
    again = EvalReport.from_dict(json.loads(saved.read_text()))
    assert again.metrics == report.metrics and again.items[0].tokens == report.items[0].tokens


def test_select_base_ranks_candidates_and_reports_failures(
    tiny_pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps(_row(i, "d", "s"), ensure_ascii=False) + "\n" for i in range(2)))
    missing = str(tmp_path / "nope")
    sel = select_base([str(tiny_pair[0]), str(tiny_pair[1]), missing], held)
    ranked = sel.ranked()
    assert len(ranked) == 2 and sel.best is ranked[0]
    assert ranked[0].report.score() >= ranked[1].report.score()
    assert next(c.error for c in sel.candidates if c.name == missing)
    table = sel.table()
    assert "<- best" in table and "failed" in table
    assert sel.to_dict()["best"] == ranked[0].name
    monkeypatch.setenv("DOMAINLM_BASE_CANDIDATES", "x, y,z")
    assert candidates_from(None) == ["x", "y", "z"] and candidates_from("a,b") == ["a", "b"]
    monkeypatch.delenv("DOMAINLM_BASE_CANDIDATES")
    with pytest.raises(ValueError):
        candidates_from(None)
