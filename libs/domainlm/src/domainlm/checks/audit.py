"""`domainlm check`: the checks (and optionally the judge) over any QA data that carries its sources.

A team with a dataset of its own audits it with the same checks the generator applies: each input row
names its chunk, question, answer and evidence (and choices/answer_index for multiple choice); each
output row keeps the input's id and says whether the item passed, which checks failed and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pydantic import BaseModel, ConfigDict, Field

from domainlm.asyncbridge import map_concurrently
from domainlm.checks.answers import AnswerChecks
from domainlm.checks.judge import AnswerJudge
from domainlm.records import CheckVerdict, content_id


class AuditItem(BaseModel):
    """One input row; fields beyond these are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str = ""
    chunk: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = ""
    evidence: str = ""
    section: str = ""
    choices: list[str] | None = None
    answer_index: int | None = None
    document_articles: list[str] = Field(
        default_factory=list, description="the document's articles (e.g. 3, 12-2); optional"
    )

    def key(self) -> str:
        return self.id or content_id(self.question, self.answer, self.choices)


class AuditVerdict(BaseModel):
    id: str
    ok: bool
    failed: list[str]
    reasons: dict[str, str]
    checks: list[CheckVerdict]
    scores: dict[str, float] = Field(default_factory=dict)


def audit(
    items: Iterable[AuditItem], checks: AnswerChecks, judge: AnswerJudge | None = None, concurrency: int = 8
) -> Iterator[AuditVerdict]:
    """Verdicts in input order. The judge's doubts count as failures here: an audit reports, it routes nothing."""

    async def one(item: AuditItem) -> AuditVerdict:
        if item.choices is not None and item.answer_index is not None:
            v = checks.check_mcq(
                item.question,
                item.choices,
                item.answer_index,
                item.evidence,
                item.chunk,
                item.section,
                item.document_articles,
            )
            answer = item.choices[item.answer_index] if 0 <= item.answer_index < len(item.choices) else ""
        else:
            v = checks.check_answer(
                item.question, item.answer, item.evidence, item.chunk, item.section, item.document_articles
            )
            answer = item.answer
        found, scores = list(v.checks), dict(v.scores)
        if not v.ok and all(c.ok for c in found):  # refused before any check ran: answer index out of range
            found.append(CheckVerdict(name="item", ok=False, detail=v.reason))
        if judge is not None:
            verdicts, cost = await judge.judge(item.question, answer, item.chunk, item.section)
            found += verdicts
            scores.update(cost)
        failed = [c for c in found if not c.ok]
        return AuditVerdict(
            id=item.key(),
            ok=not failed,
            failed=[c.name for c in failed],
            reasons={c.name: c.detail for c in failed},
            checks=found,
            scores=scores,
        )

    async def numbered(pair: tuple[int, AuditItem]) -> tuple[int, AuditVerdict]:
        return pair[0], await one(pair[1])

    # Results come in completion order; the input's order is put back.
    for _, verdict in sorted(map_concurrently(numbered, enumerate(items), concurrency), key=lambda p: p[0]):
        yield verdict
