"""Base-model choice: score each candidate on the held-out domain QA and pick the best.

Candidates are model directories (or names transformers can load offline); which ones is a setting
(`--candidates` or DOMAINLM_BASE_CANDIDATES, typically three), never a name written into the code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainlm.files import write_json_atomic
from domainlm.training.evaluate import DEFAULT_METRIC, EvalReport, evaluate_model, load_eval

CANDIDATES_ENV = "DOMAINLM_BASE_CANDIDATES"
DEFAULT_CANDIDATES = 3  # how many the issue asks to compare by default; a warning when fewer are given


def candidates_from(value: str | None) -> list[str]:
    """Comma-separated candidates from the argument, else from DOMAINLM_BASE_CANDIDATES."""
    raw = value if value else os.environ.get(CANDIDATES_ENV, "")
    names = [c.strip() for c in raw.split(",") if c.strip()]
    if not names:
        raise ValueError(f"no candidates: give --candidates A,B,C or set {CANDIDATES_ENV}")
    if len(set(names)) != len(names):
        raise ValueError(f"a candidate is named twice: {names}")
    return names


@dataclass
class Candidate:
    name: str
    report: EvalReport | None = None
    error: str | None = None


@dataclass
class Selection:
    metric: str
    candidates: list[Candidate] = field(default_factory=list)

    def ranked(self) -> list[Candidate]:
        scored = [c for c in self.candidates if c.report is not None]
        return sorted(scored, key=lambda c: -c.report.score(self.metric))  # type: ignore[union-attr]

    @property
    def best(self) -> Candidate | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "metric": self.metric,
            "best": best.name if best else None,
            "ranking": [c.name for c in self.ranked()],
            "candidates": [
                {"name": c.name, "error": c.error, "report": c.report.to_dict() if c.report else None}
                for c in self.candidates
            ],
        }

    def table(self) -> str:
        """A plain-text table, best first; failed candidates last with their error."""
        cols = ["logprob_per_char", "logprob_per_token", "perplexity", "char_f1", "rouge_l"]
        shown = [c for c in cols if any(x.report and c in x.report.metrics for x in self.candidates)]
        width = max([len("candidate"), *(len(c.name) for c in self.candidates)])
        head = f"{'rank':>4}  {'candidate':<{width}}  " + "  ".join(f"{c:>17}" for c in shown)
        lines = [head, "-" * len(head)]
        for rank, cand in enumerate(self.ranked(), 1):
            assert cand.report is not None
            vals = "  ".join(f"{cand.report.metrics[c]:>17.4f}" for c in shown)
            mark = "  <- best" if rank == 1 else ""
            lines.append(f"{rank:>4}  {cand.name:<{width}}  {vals}{mark}")
        for cand in self.candidates:
            if cand.report is None:
                lines.append(f"{'-':>4}  {cand.name:<{width}}  failed: {cand.error}")
        lines.append(f"(ranked by {self.metric}, higher is better)")
        return "\n".join(lines)


def select_base(
    candidates: Sequence[str],
    eval_file: Path,
    metric: str = DEFAULT_METRIC,
    generate: bool = False,
    max_new_tokens: int = 128,
) -> Selection:
    """Every candidate scored on the same questions; one that cannot load is reported, not fatal."""
    items = load_eval(eval_file)
    selection = Selection(metric)
    for name in candidates:
        cand = Candidate(name)
        try:
            cand.report = evaluate_model(name, eval_file, generate, max_new_tokens, items=items)
            cand.report.score(metric)
        except (OSError, ValueError, KeyError) as e:
            cand.report, cand.error = None, f"{type(e).__name__}: {e}"
        selection.candidates.append(cand)
    return selection


def save_selection(selection: Selection, path: Path) -> Path:
    return write_json_atomic(path, selection.to_dict())
