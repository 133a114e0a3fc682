"""The dedup stage: one row kept per near-duplicate cluster, every dropped row accounted for.

The same core serves pipeline Samples (:class:`NearDuplicateFilter`) and arbitrary JSONL rows with an
``id`` (:func:`dedup_rows`, used by ``domainlm dedup``). Rows go to the index in batches, because the
index sketches a whole batch in a few numpy calls; they come out in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, TypeVar

from domainlm.dedup.index import NearDuplicateIndex
from domainlm.funnel import Funnel
from domainlm.records import Sample

T = TypeVar("T")
Clusters = dict[str, list[dict[str, Any]]]  # kept id -> [{"id": dropped id, "similarity": exact Jaccard}]

BATCH = 4096
# Fields compared when none are named, first match wins: Samples (as `sample_text` compares them),
# plain text, TRL SFT and DPO rows.
DEFAULT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("instruction", "output"),
    ("text",),
    ("prompt", "chosen"),
    ("messages",),
)


def sample_text(sample: Sample) -> str:
    """What two Samples are compared on: the instruction and the answer.

    An MCQ's distractors are left out: teachers reuse generic distractors ("회사는 책임지지 않습니다"),
    which would make distinct items with a short stem look alike.
    """
    return "\n".join([sample.instruction, sample.output])


def row_text(row: Mapping[str, Any], fields: Sequence[str] | None = None) -> str:
    """The text of a JSONL row: the named fields, or the first of :data:`DEFAULT_FIELDS` it has."""
    if fields:
        missing = [f for f in fields if f not in row]
        if missing:
            raise ValueError(f"row {row.get('id')!r} has no field {', '.join(missing)}")
        return "\n".join(_as_text(row[f]) for f in fields)
    for group in DEFAULT_FIELDS:
        present = [f for f in group if row.get(f) is not None]
        if group[0] in present and group[-1] in present:
            return "\n".join(_as_text(row[f]) for f in present)
    wanted = " or ".join("+".join(g) for g in DEFAULT_FIELDS)
    raise ValueError(f"row {row.get('id')!r} has none of {wanted}; name the fields to compare")


class NearDuplicateFilter:
    """A Stage: Samples in, one per near-duplicate cluster out, duplicates rejected with their match."""

    name = "dedup"

    def __init__(
        self,
        index: NearDuplicateIndex,
        text_of: Callable[[Sample], str] = sample_text,
        batch_size: int = BATCH,
    ) -> None:
        self.index = index
        self.text_of = text_of
        self.batch_size = batch_size
        self.clusters: Clusters = {}

    def run(self, records: Iterable[Sample], funnel: Funnel) -> Iterator[Sample]:
        return _dedup(
            records,
            lambda s: s.id,
            self.text_of,
            self.index,
            funnel,
            self.name,
            self.clusters,
            self.batch_size,
        )

    def cluster_rows(self) -> list[dict[str, Any]]:
        """``{"kept": id, "duplicates": [{"id", "similarity"}, ...]}`` per cluster with a dropped row."""
        return cluster_rows(self.clusters)


def dedup_rows(
    rows: Iterable[dict[str, Any]],
    index: NearDuplicateIndex,
    fields: Sequence[str] | None,
    funnel: Funnel,
    *,
    clusters: Clusters | None = None,
    stage: str = "dedup",
    batch_size: int = BATCH,
) -> Iterator[dict[str, Any]]:
    """JSONL rows with an ``id``, unchanged, one per near-duplicate cluster; ``clusters`` is filled in."""

    def key(row: dict[str, Any]) -> str:
        if "id" not in row:
            raise ValueError(f"row without an id: {str(row)[:200]}")
        return str(row["id"])

    found = clusters if clusters is not None else {}
    return _dedup(rows, key, lambda r: row_text(r, fields), index, funnel, stage, found, batch_size)


def cluster_rows(clusters: Clusters) -> list[dict[str, Any]]:
    return [{"kept": kept, "duplicates": dups} for kept, dups in clusters.items()]


def _dedup(
    items: Iterable[T],
    key_of: Callable[[T], str],
    text_of: Callable[[T], str],
    index: NearDuplicateIndex,
    funnel: Funnel,
    stage: str,
    clusters: Clusters,
    batch_size: int,
) -> Iterator[T]:
    passed: set[str] = set()
    it = iter(items)
    while batch := list(islice(it, batch_size)):
        funnel.saw(stage, len(batch))
        keys = [key_of(x) for x in batch]
        found = index.add_batch(keys, [text_of(x) for x in batch])
        for item, key, match in zip(batch, keys, found, strict=True):
            if match is not None:
                funnel.reject(
                    stage,
                    "near-duplicate",
                    key,
                    f"duplicate of {match.kept} (similarity {match.similarity:.2f})",
                )
                clusters.setdefault(match.kept, []).append({"id": key, "similarity": match.similarity})
            elif key in passed:  # the index calls a known key new (a resumed run needs that); once is enough
                funnel.reject(stage, "repeated-id", key, "the same id came earlier in this input")
            else:
                passed.add(key)
                funnel.passed_on(stage)
                yield item


def _as_text(value: Any) -> str:
    """Strings as they are; chat messages and lists joined by their text content."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return _as_text(value.get("content", ""))
    if isinstance(value, list | tuple):
        return "\n".join(_as_text(v) for v in value)
    return str(value)
