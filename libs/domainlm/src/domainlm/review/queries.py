"""What a reviewer asks of the queue: filters, sort, paging; one place turns them into SQL.

The columns filtered on are denormalised from the item at submit time (score, kind, teacher, a
lower-cased search text), so a queue of tens of thousands of items pages without reading their bodies.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from domainlm.records import ReviewState


class ItemFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: ReviewState | None = None
    route: Literal["human", "auto"] | None = None
    doc_id: str | None = Field(None, description="a document id (sha256) or a prefix of it")
    section: str | None = Field(None, description="text the section path contains")
    min_score: float | None = Field(None, ge=0, le=1, description="answer support score, at least")
    max_score: float | None = Field(None, ge=0, le=1)
    teacher: str | None = None
    kind: Literal["qa", "mcq", "evolved"] | None = None
    q: str | None = Field(None, description="text the question or answer contains")

    def where(self, items: sa.Table) -> list[Any]:
        c = items.c
        clauses: list[Any] = []
        if self.state:
            clauses.append(c.state == self.state.value)
        if self.route:
            clauses.append(c.route == self.route)
        if self.doc_id:
            clauses.append(c.doc_id.startswith(self.doc_id, autoescape=True))
        if self.section:
            clauses.append(c.section.contains(self.section, autoescape=True))
        if self.min_score is not None:
            clauses.append(c.score >= self.min_score)
        if self.max_score is not None:
            clauses.append(c.score <= self.max_score)
        if self.teacher:
            clauses.append(c.teacher == self.teacher)
        if self.kind:
            clauses.append(c.kind == self.kind)
        if self.q:
            clauses.append(c.search.contains(self.q.lower(), autoescape=True))
        return clauses


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sort: Literal["created", "score"] = "created"
    order: Literal["asc", "desc"] = "asc"
    offset: int = Field(0, ge=0)
    limit: int = Field(50, ge=1, le=500)

    def order_by(self, items: sa.Table) -> list[Any]:
        key = items.c.score if self.sort == "score" else items.c.created_at
        first = key.desc() if self.order == "desc" else key.asc()
        return [first, items.c.id]
