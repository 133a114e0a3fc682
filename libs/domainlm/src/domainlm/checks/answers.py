"""Every LLM-free check of one generated item, with each check's verdict kept for the reviewer.

The lexical support check (checks.support) catches invented text; the checks here catch a
wrong answer written in the chunk's own words: a flipped polarity, a swapped number or unit, a wrong
article, a list with an item dropped, an answer that is not what its evidence says, and a multiple-choice
item one of whose distractors is true.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from domainlm.checks.articles import article_mismatch
from domainlm.checks.evidence import beyond_evidence
from domainlm.checks.lists import dropped_items
from domainlm.checks.morphology import reader
from domainlm.checks.polarity import polarity_conflict
from domainlm.checks.quantities import quantities, quantity_mismatch
from domainlm.checks.support import FaithfulnessCheck, FaithfulnessSettings, Verdict
from domainlm.records import CheckVerdict
from domainlm.textsim import containment

CHECKS = ("support", "polarity", "quantities", "articles", "list", "evidence")


class CheckSettings(BaseModel):
    support: FaithfulnessSettings = Field(default_factory=FaithfulnessSettings)
    morphology: str = Field("kiwi", description="predicate reader for the polarity check: kiwi or regex")
    skip: list[str] = Field(default_factory=list, description=f"checks to leave out, of {', '.join(CHECKS)}")
    min_evidence_support: float = Field(
        0.75, description="share of the answer's bigrams that must be in its evidence (and question)"
    )
    max_novel_bigrams: int = Field(
        6,
        description="answer bigrams its evidence, question and article title all lack: more is added content",
    )
    min_list_item_support: float = Field(0.7, description="how much of a list item an answer must name")
    min_entailed_distractor_support: float = Field(
        0.8, description="a distractor statement this much in the chunk, and not contradicted, is true"
    )


class AnswerChecks:
    """The LLM-free checks; `check_answer`/`check_mcq` give one Verdict naming the first failed reason."""

    def __init__(self, settings: CheckSettings | None = None) -> None:
        self.settings = settings or CheckSettings()
        self.lexical = FaithfulnessCheck(self.settings.support)
        self.reader = reader(self.settings.morphology)

    def _answer_checks(
        self, question: str, answer: str, evidence: str, chunk: str, section: str, articles: Sequence[str]
    ) -> list[tuple[str, Callable[[], str | None]]]:
        s = self.settings
        # The evidence is the clause the answer rests on; the chunk stands in where the evidence lacks it.
        source = evidence or chunk
        qsource = source if quantities(source) else chunk
        return [
            ("polarity", lambda: polarity_conflict(answer, source, self.reader, f"{question}\n{section}")),
            ("quantities", lambda: quantity_mismatch(answer, qsource)),
            ("articles", lambda: article_mismatch(answer, section, chunk, articles)),
            ("list", lambda: dropped_items(answer, chunk, s.min_list_item_support)),
            (
                "evidence",
                lambda: beyond_evidence(
                    question, answer, source, section, s.min_evidence_support, s.max_novel_bigrams
                ),
            ),
        ]

    def check_answer(
        self,
        question: str,
        answer: str,
        evidence: str,
        chunk: str,
        section: str = "",
        document_articles: Sequence[str] = (),
    ) -> Verdict:
        """`document_articles` (Chunk.document_articles) tells a cited article the document lacks."""
        lexical = self.lexical.check_answer(question, answer, evidence, chunk)
        verdicts = [CheckVerdict(name="support", ok=lexical.ok, detail=lexical.reason)]
        for name, run in self._answer_checks(question, answer, evidence, chunk, section, document_articles):
            if name in self.settings.skip:
                continue
            why = run()
            verdicts.append(CheckVerdict(name=name, ok=why is None, detail=why or ""))
        return _verdict(verdicts, lexical.scores)

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
            return Verdict(False, "answer-index-out-of-range", {}, [])
        verdict = self.check_answer(
            question, choices[answer_index], evidence, chunk, section, document_articles
        )
        if "distractors" in self.settings.skip:
            return verdict
        true_ones = [
            c for i, c in enumerate(choices) if i != answer_index and self.entailed(c, chunk, section)
        ]
        detail = f"distractor-entailed: {true_ones[0]!r} is stated by the chunk" if true_ones else ""
        return _verdict(
            [*verdict.checks, CheckVerdict(name="distractors", ok=not true_ones, detail=detail)],
            verdict.scores,
        )

    def entailed(self, statement: str, chunk: str, section: str = "") -> bool:
        """A statement (it has a predicate: a bare term is no claim) that the chunk says, uncontradicted."""
        if not self.reader.predicates(statement):
            return False
        if containment(statement, chunk) < self.settings.min_entailed_distractor_support:
            return False
        contradicted = (
            polarity_conflict(statement, chunk, self.reader)
            or quantity_mismatch(statement, chunk)
            or article_mismatch(statement, section, chunk)
        )
        return contradicted is None


def _verdict(checks: list[CheckVerdict], scores: dict[str, float]) -> Verdict:
    failed = [c for c in checks if not c.ok]
    reason = failed[0].detail.split(":", 1)[0] if failed else ""
    return Verdict(not failed, reason, scores, checks)
