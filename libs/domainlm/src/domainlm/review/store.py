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
from domainlm.review.queries import ItemFilter, Page

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
    # Bumped by every decision: a decision taken on an older version is refused (two reviewers).
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    # Denormalised for the queue's filters and sort (queries.py).
    sa.Column("score", sa.Float),
    sa.Column("kind", sa.Text),
    sa.Column("teacher", sa.Text),
    sa.Column("search", sa.Text),
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
    # The item as it was before: what an undo restores.
    sa.Column("before_state", sa.Text),
    sa.Column("before_body", sa.Text),
)
_ADDED = {"review_items": ["version", "score", "kind", "teacher", "search"],
          "review_decisions": ["before_state", "before_body"]}  # fmt: skip


class Decision(BaseModel):
    """One reviewer decision, as imported from JSONL (or posted by the review UI)."""

    id: str = Field(description="the sample id")
    action: Literal["approve", "edit", "reject"]
    reviewer: str = "anonymous"
    note: str = ""
    instruction: str | None = Field(None, description="the corrected instruction, for `edit`")
    output: str | None = Field(None, description="the corrected answer, for `edit`")
    version: int | None = Field(None, description="the item version decided on; a newer one refuses it")


class StoredItem(BaseModel):
    sample: Sample
    version: int
    route: str


class StaleVersion(Exception):
    """The item changed since the reviewer read it; `current` is what it is now, `last` who changed it."""

    def __init__(self, current: StoredItem, last: dict[str, Any] | None) -> None:
        super().__init__(f"{current.sample.id} is at version {current.version}")
        self.current, self.last = current, last


class UndoRefused(Exception):
    """Nothing of the reviewer's to undo (LookupError-like), or another decision came after it."""


_STATE = {"approve": ReviewState.APPROVED, "edit": ReviewState.EDITED, "reject": ReviewState.REJECTED}
_HISTORY = ("action", "reviewer", "note", "instruction", "output", "decided_at")


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
        _add_missing_columns(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def submit(self, sample: Sample, route: Literal["human", "auto"]) -> bool:
        """Adds an item once; returns False if it was already there (a re-run changes nothing)."""
        now = time.time()
        row = {
            "id": sample.id, "state": sample.review.value, "route": route,
            "doc_id": sample.provenance.doc_id, "section": sample.provenance.section,
            "body": sample.model_dump_json(), "created_at": now, "updated_at": now, "version": 0,
            "score": sample.scores.get("answer_support"), "kind": sample.kind.value,
            "teacher": sample.provenance.teacher_model,
            "search": f"{sample.instruction}\n{sample.output}".lower(),
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
        stored = self.item(item_id)
        return stored.sample if stored is not None else None

    def item(self, item_id: str) -> StoredItem | None:
        with self._engine.connect() as db:
            row = db.execute(
                sa.select(items.c.body, items.c.version, items.c.route).where(items.c.id == item_id)
            ).first()
        return _stored(row) if row is not None else None

    def decide(self, decision: Decision) -> Sample:
        """Applies a decision (KeyError: no such item; ValueError: an edit that changes nothing;
        StaleVersion: the item changed since `decision.version`)."""
        with self._engine.begin() as db:
            # Row lock on Postgres: two reviewers deciding one item at once are applied one after the other.
            query = (
                sa.select(items.c.body, items.c.version, items.c.route, items.c.state)
                .where(items.c.id == decision.id)
                .with_for_update()
            )
            row = db.execute(query).first()
            if row is None:
                raise KeyError(f"no review item {decision.id!r}")
            if decision.version is not None and decision.version != row.version:
                raise StaleVersion(_stored(row), self._last(db, decision.id))
            sample = Sample.model_validate_json(row.body)
            if decision.action == "edit":
                instruction = decision.instruction or sample.instruction
                output = decision.output or sample.output
                if (instruction, output) == (sample.instruction, sample.output):
                    raise ValueError(f"{decision.id}: the edit changes nothing (approve it instead)")
                sample.instruction, sample.output = instruction, output
            sample.review, sample.reviewer = _STATE[decision.action], decision.reviewer
            now = time.time()
            db.execute(
                decisions.insert().values(
                    item_id=decision.id, action=decision.action, reviewer=decision.reviewer,
                    note=decision.note, instruction=decision.instruction, output=decision.output,
                    decided_at=now, before_state=row.state, before_body=row.body,
                )
            )  # fmt: skip
            self._write(db, decision.id, sample, now)
        return sample

    def undo_last(self, reviewer: str) -> Sample:
        """Restores the item of the reviewer's last decision to what it was before it (UndoRefused when
        there is none, or when someone decided on that item since)."""
        with self._engine.begin() as db:
            # Decisions in force keep the item as it was before them; an undone one has none left.
            in_force = sa.and_(decisions.c.action != "undo", decisions.c.before_body.isnot(None))
            mine = db.execute(
                sa.select(decisions.c.seq, decisions.c.item_id, decisions.c.before_body)
                .where(decisions.c.reviewer == reviewer, in_force)
                .order_by(decisions.c.seq.desc())
                .limit(1)
            ).first()
            if mine is None:
                raise UndoRefused(f"{reviewer} has no decision to undo")
            db.execute(sa.select(items.c.id).where(items.c.id == mine.item_id).with_for_update())
            later = db.execute(
                sa.select(decisions.c.reviewer)
                .where(decisions.c.item_id == mine.item_id, decisions.c.seq > mine.seq, in_force)
                .limit(1)
            ).scalar()
            if later is not None:
                raise UndoRefused(f"{mine.item_id} was decided again since (by {later}); undo refused")
            sample = Sample.model_validate_json(mine.before_body)
            now = time.time()
            # The undo is itself in the history (audit); it is not what a later undo takes back.
            db.execute(
                decisions.insert().values(
                    item_id=mine.item_id, action="undo", reviewer=reviewer, note=f"undid decision {mine.seq}",
                    decided_at=now,
                )
            )  # fmt: skip
            db.execute(decisions.update().where(decisions.c.seq == mine.seq).values(before_body=None))
            self._write(db, mine.item_id, sample, now)
        return sample

    def query(self, where: ItemFilter, page: Page) -> tuple[int, list[StoredItem]]:
        """One page of the queue and the total that matches."""
        clauses = where.where(items)
        select = sa.select(items.c.body, items.c.version, items.c.route).where(*clauses)
        with self._engine.connect() as db:
            total = db.execute(sa.select(sa.func.count()).select_from(items).where(*clauses)).scalar()
            rows = db.execute(select.order_by(*page.order_by(items)).offset(page.offset).limit(page.limit))
            return int(total or 0), [_stored(r) for r in rows]

    def matching_ids(self, where: ItemFilter) -> list[str]:
        query = sa.select(items.c.id).where(*where.where(items)).order_by(items.c.created_at, items.c.id)
        with self._engine.connect() as db:
            return list(db.execute(query).scalars())

    def reviewer_counts(self) -> dict[str, int]:
        """Decisions per reviewer (undos and the checks' own `auto` decisions aside)."""
        query = (
            sa.select(decisions.c.reviewer, sa.func.count())
            .where(decisions.c.action != "undo", decisions.c.reviewer != "auto")
            .group_by(decisions.c.reviewer)
        )
        with self._engine.connect() as db:
            return {who: n for who, n in db.execute(query).all()}

    @staticmethod
    def _write(db: sa.Connection, item_id: str, sample: Sample, now: float) -> None:
        db.execute(
            items.update()
            .where(items.c.id == item_id)
            .values(
                state=sample.review.value, body=sample.model_dump_json(), updated_at=now,
                version=items.c.version + 1, search=f"{sample.instruction}\n{sample.output}".lower(),
            )
        )  # fmt: skip

    @staticmethod
    def _last(db: sa.Connection, item_id: str) -> dict[str, Any] | None:
        cols = [decisions.c[n] for n in _HISTORY]
        query = (
            sa.select(*cols).where(decisions.c.item_id == item_id).order_by(decisions.c.seq.desc()).limit(1)
        )
        row = db.execute(query).first()
        return dict(row._mapping) if row is not None else None

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
        cols = [decisions.c[n] for n in _HISTORY]
        query = sa.select(*cols).where(decisions.c.item_id == item_id).order_by(decisions.c.seq)
        with self._engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]


def _stored(row: Any) -> StoredItem:
    return StoredItem(sample=Sample.model_validate_json(row.body), version=row.version, route=row.route)


def _add_missing_columns(engine: sa.Engine) -> None:
    """Stores made before a column existed get it (ALTER TABLE ADD COLUMN, on SQLite and Postgres)."""
    inspector = sa.inspect(engine)
    with engine.begin() as db:
        for table_name, names in _ADDED.items():
            have = {c["name"] for c in inspector.get_columns(table_name)}
            table = metadata.tables[table_name]
            for name in names:
                if name not in have:
                    column = table.c[name]
                    kind = column.type.compile(engine.dialect)
                    default = " NOT NULL DEFAULT 0" if name == "version" else ""
                    db.execute(sa.text(f"ALTER TABLE {table_name} ADD COLUMN {name} {kind}{default}"))


def _dialect_insert(engine: sa.Engine, table: sa.Table) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise ValueError(f"review store: unsupported database {engine.dialect.name!r} (SQLite or Postgres)")
