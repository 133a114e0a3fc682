"""The data contract: every record that flows between stages.

Records are pydantic models so that JSONL files, Kafka messages and gRPC codecs all share one
validation. Ids are content-derived, so re-running a stage on the same input yields the same ids and
downstream consumers can stay idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


def content_id(*parts: object, length: int = 16) -> str:
    """A short, stable id derived from the given parts.

    >>> content_id("doc", 1) == content_id("doc", 1)
    True
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:length]


class Page(BaseModel):
    """One page of one document, as extracted."""

    source: str = Field(description="the path exactly as given")
    doc_id: str = Field(description="sha256 of the document's bytes")
    page: int = Field(ge=1, description="1-based page number")
    text: str
    method: Literal["text-layer", "ocr"]
    reason: str = Field("", description="why this method was chosen for the page")
    confidence: float | None = Field(None, description="mean OCR word confidence (0-100), if OCR")
    seconds: float = Field(0.0, description="time spent on this page")


class Chunk(BaseModel):
    """A structure-aware piece of a document, bounded by tokens."""

    id: str
    doc_id: str
    source: str
    index: int = Field(description="position of the chunk in its document")
    pages: list[int]
    section: str = Field(description="title of the enclosing article, e.g. 제3조(보상하는 손해)")
    text: str
    tokens: int
    document_articles: list[str] = Field(
        default_factory=list,
        description="the articles its document has (제12조의2 as 12-2), so a check can tell a cited "
        "article the document lacks from one that is merely elsewhere",
    )


class SampleKind(StrEnum):
    QA = "qa"
    MCQ = "mcq"
    EVOLVED = "evolved"


class ReviewState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"


class Provenance(BaseModel):
    doc_id: str
    source: str
    pages: list[int]
    section: str
    chunk_id: str
    teacher_model: str = ""
    prompt_version: str = ""
    parent_id: str | None = None
    evolution_op: str | None = None
    depth: int = 0


class CheckVerdict(BaseModel):
    """One check's verdict on an item, kept on the item so reviewers see why it passed or what doubts it."""

    name: str = Field(description="e.g. support, polarity, quantities, articles, list, evidence, judge")
    ok: bool
    detail: str = ""


class Sample(BaseModel):
    """A QA pair, a multiple-choice item, or an evolved instruction."""

    id: str
    kind: SampleKind
    instruction: str
    output: str
    choices: list[str] | None = None
    answer_index: int | None = None
    provenance: Provenance
    review: ReviewState = ReviewState.PENDING
    reviewer: str | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    evidence: str = Field("", description="the source sentence(s) the teacher quoted for the answer")
    checks: list[CheckVerdict] = Field(default_factory=list)

    @property
    def doubts(self) -> list[CheckVerdict]:
        """Failed verdicts that did not reject the item (the judge's): they send it to a human."""
        return [c for c in self.checks if not c.ok]

    @staticmethod
    def make_id(chunk_id: str, kind: str, instruction: str, output: str) -> str:
        return content_id(chunk_id, kind, instruction, output)

    @property
    def is_verified(self) -> bool:
        return self.review in (ReviewState.APPROVED, ReviewState.EDITED)


class PreferencePair(BaseModel):
    """A DPO pair: the verified answer against a worse one."""

    id: str
    sample_id: str
    prompt: str
    chosen: str
    rejected: str
    rejected_source: str = Field(description="where the rejected answer came from, e.g. distractor")
    in_sft: bool = Field(description="whether the prompt also appears in the SFT export")
    provenance: Provenance


class Rejection(BaseModel):
    """Why a record did not survive a stage: one row of the error report."""

    stage: str
    reason: str
    record_id: str
    detail: str = ""

    @classmethod
    def many(cls, stage: str, found: Iterable[tuple[str, str, str]]) -> list[Rejection]:
        """Rejections from a stage result's (reason, record id, detail) triples."""
        return [
            cls(stage=stage, reason=reason, record_id=rid, detail=detail) for reason, rid, detail in found
        ]
