"""The review store: items, their current state, and every decision ever taken on them.

One schema on any database SQLAlchemy speaks: a SQLite file in one process (the embedded default), a
Postgres server behind the review service, where several replicas and the reviewer UI share it.
Keeping the decision history (not only the latest state) is what a reviewer UI needs for audit and undo.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from domainlm.records import ReviewState, Sample

metadata = sa.MetaData()
items = sa.Table(
    "review_items",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("route", sa.Text, nullable=False),  # human | auto
    sa.Column("doc_id", sa.Text, nullable=False),
    sa.Column("section", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the Sample as JSON, as last edited
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("review_items_state", "state", "route"),
)
decisions = sa.Table(
    "review_decisions",
    metadata,
    sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("item_id", sa.Text, sa.ForeignKey("review_items.id"), nullable=False, index=True),
    sa.Column("action", sa.Text, nullable=False),  # approve | edit | reject
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("instruction", sa.Text),
    sa.Column("output", sa.Text),
    sa.Column("decided_at", sa.Float, nullable=False),
)


class Decision(BaseModel):
    """One reviewer decision, as imported from JSONL (or posted by the review UI)."""

    id: str = Field(description="the sample id")
    action: Literal["approve", "edit", "reject"]
    reviewer: str = "anonymous"
    note: str = ""
    instruction: str | None = Field(None, description="the corrected instruction, for `edit`")
    output: str | None = Field(None, description="the corrected answer, for `edit`")


_STATE = {"approve": ReviewState.APPROVED, "edit": ReviewState.EDITED, "reject": ReviewState.REJECTED}


def database_url(target: Path | str) -> str:
    """A SQLAlchemy URL: given as is (postgresql+psycopg://…), or a SQLite file for a path."""
    if isinstance(target, str) and "://" in target:
        return target
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class ReviewStore:
    def __init__(self, target: Path | str) -> None:
        self.url = database_url(target)
        self._engine = sa.create_engine(self.url, pool_pre_ping=True)
        metadata.create_all(self._engine)  # idempotent; replicas starting together race harmlessly

    def close(self) -> None:
        self._engine.dispose()

    def submit(self, sample: Sample, route: Literal["human", "auto"]) -> bool:
        """Adds an item once; returns False if it was already there (a re-run changes nothing)."""
        now = time.time()
        row = {
            "id": sample.id, "state": sample.review.value, "route": route,
            "doc_id": sample.provenance.doc_id, "section": sample.provenance.section,
            "body": sample.model_dump_json(), "created_at": now, "updated_at": now,
        }  # fmt: skip
        # ON CONFLICT DO NOTHING reads the same on SQLite and Postgres; two replicas submitting one
        # redelivered item cannot both insert it.
        # RETURNING tells whether the row went in (psycopg's rowcount does not, for ON CONFLICT).
        insert = (
            _dialect_insert(self._engine, items)
            .values(row)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(items.c.id)
        )
        with self._engine.begin() as db:
            return db.execute(insert).first() is not None

    def get(self, item_id: str) -> Sample | None:
        with self._engine.connect() as db:
            body = db.execute(sa.select(items.c.body).where(items.c.id == item_id)).scalar()
        return Sample.model_validate_json(body) if body is not None else None

    def decide(self, decision: Decision) -> Sample:
        with self._engine.begin() as db:
            # Row lock on Postgres: two reviewers deciding one item at once are applied one after the other.
            query = sa.select(items.c.body).where(items.c.id == decision.id).with_for_update()
            body = db.execute(query).scalar()
            if body is None:
                raise KeyError(f"no review item {decision.id!r}")
            sample = Sample.model_validate_json(body)
            if decision.action == "edit":
                if not (decision.instruction or decision.output):
                    raise ValueError(f"{decision.id}: an edit needs a new instruction or output")
                sample.instruction = decision.instruction or sample.instruction
                sample.output = decision.output or sample.output
            sample.review, sample.reviewer = _STATE[decision.action], decision.reviewer
            now = time.time()
            db.execute(
                decisions.insert().values(
                    item_id=decision.id, action=decision.action, reviewer=decision.reviewer,
                    note=decision.note, instruction=decision.instruction, output=decision.output,
                    decided_at=now,
                )
            )  # fmt: skip
            db.execute(
                items.update()
                .where(items.c.id == decision.id)
                .values(state=sample.review.value, body=sample.model_dump_json(), updated_at=now)
            )
        return sample

    def items(
        self, states: Iterable[ReviewState] | None = None, limit: int | None = None
    ) -> Iterator[Sample]:
        query = sa.select(items.c.body).order_by(items.c.created_at, items.c.id).limit(limit)
        if states is not None:
            query = query.where(items.c.state.in_([s.value for s in states]))
        with self._engine.connect() as db:
            bodies = db.execute(query).scalars().all()
        for body in bodies:
            yield Sample.model_validate_json(body)

    def pending(self, limit: int | None = None) -> Iterator[Sample]:
        return self.items([ReviewState.PENDING], limit)

    def verified(self) -> Iterator[Sample]:
        return self.items([ReviewState.APPROVED, ReviewState.EDITED])

    def counts(self) -> dict[str, int]:
        query = sa.select(items.c.state, sa.func.count()).group_by(items.c.state)
        with self._engine.connect() as db:
            return {state: n for state, n in db.execute(query).all()}

    def history(self, item_id: str) -> list[dict[str, Any]]:
        cols = [decisions.c[n] for n in ("action", "reviewer", "note", "instruction", "output", "decided_at")]
        query = sa.select(*cols).where(decisions.c.item_id == item_id).order_by(decisions.c.seq)
        with self._engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]


def _dialect_insert(engine: sa.Engine, table: sa.Table) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise ValueError(f"review store: unsupported database {engine.dialect.name!r} (SQLite or Postgres)")
