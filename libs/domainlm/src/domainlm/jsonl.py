"""JSONL in and out: the file format every stage command reads and writes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from domainlm.files import atomic_open

M = TypeVar("M", bound=BaseModel)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: not valid JSON: {e}") from e


def read_models(path: Path, model: type[M]) -> Iterator[M]:
    for row in read_rows(path):
        yield model.model_validate(row)


def write_rows(path: Path, rows: Iterable[dict[str, Any] | BaseModel]) -> int:
    """Writes atomically (temp file then rename), so an interrupted run never leaves half a file."""
    n = 0
    with atomic_open(path) as f:
        for row in rows:
            line = (
                row.model_dump_json() if isinstance(row, BaseModel) else json.dumps(row, ensure_ascii=False)
            )
            f.write(line + "\n")
            n += 1
    return n
