"""The review store: items, their current state, and every decision ever taken on them.

SQLite in one process; the review service (a later issue) puts the same schema on Postgres. Keeping the
decision history (not only the latest state) is what a reviewer UI needs for audit and undo.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from domainlm.records import ReviewState, Sample

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    route TEXT NOT NULL,              -- human | auto
    doc_id TEXT NOT NULL,
    section TEXT NOT NULL,
    body TEXT NOT NULL,               -- the Sample as JSON, as last edited
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS items_state ON items(state, route);
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL REFERENCES items(id),
    action TEXT NOT NULL,             -- approve | edit | reject
    reviewer TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    instruction TEXT,
    output TEXT,
    decided_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_item ON decisions(item_id);
"""


class Decision(BaseModel):
    """One reviewer decision, as imported from JSONL (or posted by the review UI)."""

    id: str = Field(description="the sample id")
    action: Literal["approve", "edit", "reject"]
    reviewer: str = "anonymous"
    note: str = ""
    instruction: str | None = Field(None, description="the corrected instruction, for `edit`")
    output: str | None = Field(None, description="the corrected answer, for `edit`")


_STATE = {"approve": ReviewState.APPROVED, "edit": ReviewState.EDITED, "reject": ReviewState.REJECTED}


class ReviewStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def submit(self, sample: Sample, route: Literal["human", "auto"]) -> bool:
        """Adds an item once; returns False if it was already there (a re-run changes nothing)."""
        now = time.time()
        cur = self._db.execute(
            "INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (sample.id, sample.review.value, route, sample.provenance.doc_id, sample.provenance.section,
             sample.model_dump_json(), now, now),
        )  # fmt: skip
        self._db.commit()
        return cur.rowcount == 1

    def get(self, item_id: str) -> Sample | None:
        row = self._db.execute("SELECT body FROM items WHERE id = ?", (item_id,)).fetchone()
        return Sample.model_validate_json(row[0]) if row else None

    def decide(self, decision: Decision) -> Sample:
        sample = self.get(decision.id)
        if sample is None:
            raise KeyError(f"no review item {decision.id!r}")
        if decision.action == "edit":
            if not (decision.instruction or decision.output):
                raise ValueError(f"{decision.id}: an edit needs a new instruction or output")
            sample.instruction = decision.instruction or sample.instruction
            sample.output = decision.output or sample.output
        sample.review, sample.reviewer = _STATE[decision.action], decision.reviewer
        now = time.time()
        with self._db:
            self._db.execute(
                "INSERT INTO decisions (item_id, action, reviewer, note, instruction, output, decided_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (decision.id, decision.action, decision.reviewer, decision.note, decision.instruction,
                 decision.output, now),
            )  # fmt: skip
            self._db.execute(
                "UPDATE items SET state = ?, body = ?, updated_at = ? WHERE id = ?",
                (sample.review.value, sample.model_dump_json(), now, decision.id),
            )
        return sample

    def items(self, states: Iterable[ReviewState] | None = None) -> Iterator[Sample]:
        query, args = "SELECT body FROM items", ()
        if states is not None:
            wanted = tuple(s.value for s in states)
            query += f" WHERE state IN ({','.join('?' * len(wanted))})"
            args = wanted  # type: ignore[assignment]
        for (body,) in self._db.execute(query + " ORDER BY created_at, id", args).fetchall():
            yield Sample.model_validate_json(body)

    def pending(self) -> Iterator[Sample]:
        return self.items([ReviewState.PENDING])

    def verified(self) -> Iterator[Sample]:
        return self.items([ReviewState.APPROVED, ReviewState.EDITED])

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall()
        return {state: n for state, n in rows}

    def history(self, item_id: str) -> list[dict[str, object]]:
        cur = self._db.execute(
            "SELECT action, reviewer, note, instruction, output, decided_at FROM decisions"
            " WHERE item_id = ? ORDER BY seq",
            (item_id,),
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
