"""Held-out evaluation: how well a model knows the domain, on questions from documents it never saw.

The held-out split groups the factory's SFT export by provenance (the document, or the document and
section), so evolved variants and other questions on the same text land on the same side as their source.

Each question is scored by the reference answer's log-likelihood under the model (teacher-forced, the
chat template applied): the mean per-token log-probability and its perplexity, and the log-probability
per character of the answer, which does not depend on the tokenizer (so candidates with different
vocabularies compare fairly). Optionally the model also answers greedily and the answer is compared
with the reference character by character (F1 and ROUGE-L on characters, whitespace ignored: Korean
words inflect, so word overlap undercounts).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from domainlm.files import write_json_atomic
from domainlm.jsonl import read_rows

EVAL_FILE = "eval.json"
Metric = Literal["logprob_per_char", "logprob_per_token", "char_f1", "rouge_l"]
METRICS: tuple[str, ...] = ("logprob_per_char", "logprob_per_token", "char_f1", "rouge_l")
DEFAULT_METRIC: Metric = "logprob_per_char"
GroupBy = Literal["doc", "section"]


# ---------------------------------------------------------------- the held-out split


def provenance_group(row: dict[str, Any], by: GroupBy = "section") -> str:
    """The unit kept together by the split: the row's document (or document and section).

    Rows without provenance form a group of their own (their id), so they still split deterministically.
    """
    prov = row.get("provenance") or {}
    doc = str(prov.get("doc_id") or "")
    if not doc:
        return "row:" + str(row.get("id") or json.dumps(row, sort_keys=True, ensure_ascii=False))
    return doc if by == "doc" else f"{doc}\x1f{prov.get('section') or ''}"


def _rank(group: str, seed: str) -> str:
    return hashlib.sha256(f"{seed}\x1e{group}".encode()).hexdigest()


def held_out_groups(
    rows: Sequence[dict[str, Any]], share: float, by: GroupBy = "section", seed: str = "domainlm-held-out"
) -> set[str]:
    """The groups held out: taken in an order fixed by a hash of (seed, group) until they hold at least
    `share` of the rows. The same export, share and seed always give the same groups, whatever the
    row order; at least one group stays in training and, for share > 0, at least one is held out."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"held-out share must be in [0, 1), got {share}")
    sizes = Counter(provenance_group(r, by) for r in rows)
    if share == 0.0 or len(sizes) < 2:
        return set()
    target = share * len(rows)
    held: set[str] = set()
    count = 0
    for group in sorted(sizes, key=lambda g: _rank(g, seed)):
        if count >= target or len(held) == len(sizes) - 1:
            break
        held.add(group)
        count += sizes[group]
    return held


def split_held_out(
    rows: Iterable[dict[str, Any]], share: float, by: GroupBy = "section", seed: str = "domainlm-held-out"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train rows, held-out rows): no document (or section) on both sides."""
    rows = list(rows)
    held = held_out_groups(rows, share, by, seed)
    train = [r for r in rows if provenance_group(r, by) not in held]
    test = [r for r in rows if provenance_group(r, by) in held]
    return train, test


# ---------------------------------------------------------------- questions


@dataclass(frozen=True)
class EvalItem:
    id: str
    prompt: list[dict[str, str]]
    reference: str


def eval_item(row: dict[str, Any], index: int = 0) -> EvalItem | None:
    """An SFT row (`messages`, the last assistant turn is the reference) or a Sample row
    (`instruction`/`output`, rendered as the export renders it); None when the row is neither."""
    rid = str(row.get("id") or f"row{index}")
    messages = row.get("messages")
    if isinstance(messages, list) and messages:
        clean = [
            {"role": str(m["role"]), "content": str(m["content"])}
            for m in messages
            if isinstance(m, dict) and "role" in m and isinstance(m.get("content"), str)
        ]
        if len(clean) != len(messages) or len(clean) < 2 or clean[-1]["role"] != "assistant":
            return None
        if clean[-2]["role"] != "user" or not clean[-1]["content"].strip():
            return None
        return EvalItem(rid, clean[:-1], clean[-1]["content"])
    if "instruction" in row and "output" in row:
        from domainlm.export import render_answer, render_prompt
        from domainlm.records import Sample

        sample = Sample.model_validate(row)
        answer = render_answer(sample)
        if not answer.strip():
            return None
        return EvalItem(sample.id, [{"role": "user", "content": render_prompt(sample)}], answer)
    return None


def load_eval(path: Path) -> list[EvalItem]:
    """The held-out questions; fails on a row that is not a question (an eval set must be clean)."""
    items = []
    for i, row in enumerate(read_rows(path)):
        item = eval_item(row, i)
        if item is None:
            raise ValueError(f"{path}: row {i + 1} is neither an SFT row ending in an answer nor a Sample")
        items.append(item)
    if not items:
        raise ValueError(f"{path}: no held-out questions")
    return items


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- text overlap (characters)


def _chars(text: str) -> list[str]:
    return [c for c in text if not c.isspace()]


def char_f1(prediction: str, reference: str) -> float:
    """F1 of the characters shared (as multisets), whitespace ignored."""
    p, r = Counter(_chars(prediction)), Counter(_chars(reference))
    if not p and not r:
        return 1.0
    common = sum((p & r).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 over characters (longest common subsequence), whitespace ignored."""
    p, r = _chars(prediction), _chars(reference)
    if not p and not r:
        return 1.0
    lcs = lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


# ---------------------------------------------------------------- scoring a model


def token_ids(out: Any) -> list[int]:
    """apply_chat_template(tokenize=True)'s answer as a list of ids, whichever form it came in."""
    if isinstance(out, dict) or hasattr(out, "input_ids"):
        out = out["input_ids"]
    return [int(i) for i in out]


def answer_token_logprobs(model: Any, tokenizer: Any, prompt: Sequence[dict], answer: str) -> list[float]:
    """Log-probability of each token of the answer turn (its end token included) after the prompt,
    teacher-forced under the chat template."""
    import torch

    prompt_ids = token_ids(
        tokenizer.apply_chat_template(list(prompt), tokenize=True, add_generation_prompt=True)
    )
    full = [*prompt, {"role": "assistant", "content": answer}]
    full_ids = token_ids(tokenizer.apply_chat_template(full, tokenize=True))
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise ValueError("the chat template does not render the prompt as a prefix of the conversation")
    # Whatever the template appends after the turn's end token (a newline) is not the answer's.
    end = _end_position(tokenizer, full_ids, len(prompt_ids))
    ids = torch.tensor([full_ids[:end]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    logps = torch.log_softmax(logits[0, :-1], dim=-1)
    picked = logps.gather(1, ids[0, 1:, None])[:, 0]
    return [float(x) for x in picked[len(prompt_ids) - 1 :]]


def _end_position(tokenizer: Any, ids: list[int], start: int) -> int:
    """One past the answer's end token (the first eos-like id after `start`), else the whole sequence."""
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, int) and eos in ids[start:]:
        return ids.index(eos, start) + 1
    return len(ids)


def greedy_answer(model: Any, tokenizer: Any, prompt: Sequence[dict], max_new_tokens: int) -> str:
    import torch

    ids = token_ids(tokenizer.apply_chat_template(list(prompt), tokenize=True, add_generation_prompt=True))
    inputs = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(
            input_ids=inputs,
            attention_mask=torch.ones_like(inputs),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return str(tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)).strip()


@dataclass
class ItemScore:
    id: str
    tokens: int
    chars: int
    logprob: float
    answer: str | None = None
    char_f1: float | None = None
    rouge_l: float | None = None


@dataclass
class EvalReport:
    """One model on one held-out file: the aggregate metrics (higher is better, but perplexity) and
    every question's score."""

    model: str
    eval_file: str
    eval_sha256: str
    questions: int
    metrics: dict[str, float]
    generate: bool
    seconds: float
    items: list[ItemScore] = field(default_factory=list)

    def score(self, metric: str = DEFAULT_METRIC) -> float:
        if metric not in self.metrics:
            raise KeyError(f"{self.model}: no {metric!r} in the report (have {sorted(self.metrics)})")
        return self.metrics[metric]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalReport:
        items = [ItemScore(**i) for i in d.get("items", [])]
        return cls(**{**d, "items": items})

    def save(self, path: Path) -> Path:
        if path.is_dir():
            path = path / EVAL_FILE
        return write_json_atomic(path, self.to_dict())


def aggregate(items: Sequence[ItemScore]) -> dict[str, float]:
    """Corpus-level metrics: log-likelihood pooled over every answer token (and character), so a long
    answer weighs as much as its length; overlap metrics averaged per question."""
    tokens = sum(i.tokens for i in items)
    chars = sum(i.chars for i in items)
    logprob = sum(i.logprob for i in items)
    per_token = logprob / tokens if tokens else float("-inf")
    metrics = {
        "logprob_per_token": per_token,
        "perplexity": math.exp(-per_token) if tokens else float("inf"),
        "logprob_per_char": logprob / chars if chars else float("-inf"),
        "answer_tokens": float(tokens),
    }
    generated = [i for i in items if i.char_f1 is not None]
    if generated:
        metrics["char_f1"] = sum(i.char_f1 or 0.0 for i in generated) / len(generated)
        metrics["rouge_l"] = sum(i.rouge_l or 0.0 for i in generated) / len(generated)
    return metrics


def score_items(
    model: Any,
    tokenizer: Any,
    items: Sequence[EvalItem],
    generate: bool = False,
    max_new_tokens: int = 128,
) -> list[ItemScore]:
    """Each question's reference log-likelihood (and greedy answer with its overlap, when asked)."""
    out = []
    for item in items:
        logps = answer_token_logprobs(model, tokenizer, item.prompt, item.reference)
        score = ItemScore(item.id, len(logps), max(1, len(_chars(item.reference))), sum(logps))
        if generate:
            answer = greedy_answer(model, tokenizer, item.prompt, max_new_tokens)
            score.answer = answer
            score.char_f1 = char_f1(answer, item.reference)
            score.rouge_l = rouge_l(answer, item.reference)
        out.append(score)
    return out


def load_for_eval(model_dir: Path | str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if not tokenizer.chat_template:
        raise ValueError(f"{model_dir}: the tokenizer has no chat template")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model, tokenizer


def evaluate_model(
    model_dir: Path | str,
    eval_file: Path,
    generate: bool = False,
    max_new_tokens: int = 128,
    items: Sequence[EvalItem] | None = None,
) -> EvalReport:
    """Scores `model_dir` on the held-out file (CPU is fine for small models and sets)."""
    import torch

    started = time.monotonic()
    items = list(items) if items is not None else load_eval(eval_file)
    torch.manual_seed(0)
    model, tokenizer = load_for_eval(model_dir)
    scores = score_items(model, tokenizer, items, generate, max_new_tokens)
    refs = {i.id: i.reference for i in items}
    metrics = _aggregate_with_refs(scores, refs)
    return EvalReport(
        model=str(model_dir),
        eval_file=str(eval_file),
        eval_sha256=file_sha256(eval_file),
        questions=len(items),
        metrics=metrics,
        generate=generate,
        seconds=round(time.monotonic() - started, 2),
        items=scores,
    )


def _aggregate_with_refs(scores: Sequence[ItemScore], refs: dict[str, str]) -> dict[str, float]:
    metrics = aggregate(scores)
    generated = [s for s in scores if s.answer is not None]
    if generated:
        metrics["exact_match"] = sum(s.answer == refs.get(s.id) for s in generated) / len(generated)
    return metrics
