"""Is an item supported by its chunk? A lexical check every item gets, cheap enough to run always.

Teachers paraphrase, so exact matching is too strict; character-bigram containment tolerates Korean
inflection and spacing while catching answers that bring in content the chunk does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field

from domainlm.records import CheckVerdict
from domainlm.textsim import containment, squash


class FaithfulnessSettings(BaseModel):
    min_answer_support: float = Field(0.6, description="share of answer bigrams that must be in the chunk")
    min_evidence_support: float = Field(
        0.8, description="share of evidence bigrams that must be in the chunk"
    )
    max_distractor_support: float = Field(
        0.98, description="a distractor copied verbatim from the chunk may be true: reject the item"
    )


@dataclass
class Verdict:
    ok: bool
    reason: str
    scores: dict[str, float]
    checks: list[CheckVerdict] = field(default_factory=list)


class ItemChecks(Protocol):
    """What a check of generated items offers: AnswerChecks, or this lexical check alone."""

    def check_answer(
        self,
        question: str,
        answer: str,
        evidence: str,
        chunk: str,
        section: str = "",
        document_articles: Sequence[str] = (),
    ) -> Verdict: ...

    def check_mcq(
        self,
        question: str,
        choices: list[str],
        answer_index: int,
        evidence: str,
        chunk: str,
        section: str = "",
        document_articles: Sequence[str] = (),
    ) -> Verdict: ...


class FaithfulnessCheck:
    """Support alone: section and document_articles are accepted for the protocol and not read."""

    def __init__(self, settings: FaithfulnessSettings | None = None) -> None:
        self.settings = settings or FaithfulnessSettings()

    def check_answer(
        self,
        question: str,
        answer: str,
        evidence: str,
        chunk: str,
        section: str = "",
        document_articles: Sequence[str] = (),
    ) -> Verdict:
        s = self.settings
        scores = {
            "answer_support": round(containment(answer, chunk), 4),
            "evidence_support": round(containment(evidence, chunk), 4) if evidence else 0.0,
        }
        if squash(answer) == squash(question):
            return Verdict(False, "answer-repeats-question", scores)
        if scores["evidence_support"] < s.min_evidence_support:
            return Verdict(False, "evidence-not-in-chunk", scores)
        if scores["answer_support"] < s.min_answer_support:
            return Verdict(False, "answer-unsupported", scores)
        return Verdict(True, "", scores)

    def check_mcq(
        self,
        question: str,
        choices: list[str],
        answer_index: int,
        evidence: str,
        chunk: str,
        section: str = "",
        document_articles: Sequence[str] = (),
    ) -> Verdict:
        if not 0 <= answer_index < len(choices):
            return Verdict(False, "answer-index-out-of-range", {})
        verdict = self.check_answer(question, choices[answer_index], evidence, chunk)
        if not verdict.ok:
            return verdict
        wrong = [c for i, c in enumerate(choices) if i != answer_index]
        top = max(containment(c, chunk) for c in wrong)
        verdict.scores["max_distractor_support"] = round(top, 4)
        if top >= self.settings.max_distractor_support:
            return Verdict(False, "distractor-stated-in-chunk", verdict.scores)
        return verdict
