"""A labelled near-duplicate set built from real text with known edits, and how to score a dedup on it.

Every row carries ``cluster``, the id of the original it was made from. Originals are passages of the
corpus that are *distinct*: no two of them reach ``distinct_below`` exact Jaccard over character n-grams
(passages that do, e.g. clauses repeated across two policies, are dropped, the later one of each pair).
Pairs between ``distinct_below`` and a dedup threshold are ambiguous even to a person, so the margin
keeps the ground truth honest. Copies are an original with one to three known edits (character typos,
spacing, punctuation, Korean particle swaps, added prefixes or suffixes, clause reordering, truncation,
or none at all). Some originals share boilerplate (the same article heading and lead-in before
different content): they must all survive.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from domainlm.dedup.edits import near_copy
from domainlm.dedup.normalise import normalise, shingles

_PAGE_NUMBER = re.compile(r"^\s*[-–]?\s*\d+\s*[-–]?\s*$")
# Where a clause of a policy starts: 제N조, circled numbers, "1.", "가.", "1)".
_ITEM_START = re.compile(r"^\s*(제\s*\d+\s*조|[①-⑳]|\d{1,2}\.\s|[가-하]\.\s|\d{1,2}\)\s)")
_SENTENCE_END = re.compile(r"(?<=[다요음함임]\.)\s+")
_HEADING = re.compile(r"제\s*\d+\s*조\s*\([^()\n]{2,30}\)")
_LEADS = ["에 관한 설명입니다. ", "에 따르면 다음과 같습니다. ", "의 내용을 읽고 답하세요. ", " 관련 조항: "]


@dataclass
class LabelledSet:
    """Rows ``{"id", "text", "cluster", "edit"}`` in stream order, and how the originals were chosen."""

    rows: list[dict[str, Any]]
    originals: int
    dropped_similar: int = 0  # passages dropped as too close to an earlier one
    boilerplate: int = 0  # originals that open with a heading and lead-in shared with others


@dataclass(frozen=True)
class Score:
    rows: int
    kept: int
    clusters: int
    redundant: int  # rows beyond the first of each cluster: what a perfect dedup removes
    removed_redundant: int
    lost: int  # clusters with no row kept at all

    @property
    def removed_share(self) -> float:
        return self.removed_redundant / self.redundant if self.redundant else 1.0

    @property
    def lost_share(self) -> float:
        return self.lost / self.clusters if self.clusters else 0.0


def score(rows: Sequence[dict[str, Any]], kept_ids: Iterable[str]) -> Score:
    """Redundant copies removed and distinct items lost, for the ids a dedup kept."""
    kept = set(kept_ids)
    size: Counter[str] = Counter(r["cluster"] for r in rows)
    survivors: Counter[str] = Counter(r["cluster"] for r in rows if r["id"] in kept)
    redundant = sum(n - 1 for n in size.values())
    removed = sum(n - max(survivors[c], 1) for c, n in size.items())
    lost = sum(1 for c in size if survivors[c] == 0)
    return Score(len(rows), len(kept), len(size), redundant, removed, lost)


def pdf_texts(pdfs: Iterable[Path]) -> list[str]:
    """The text layer of each PDF, via poppler's ``pdftotext``."""
    return [
        subprocess.run(["pdftotext", str(p), "-"], capture_output=True, text=True, check=True).stdout
        for p in pdfs
    ]


def passages(texts: Iterable[str], min_chars: int = 40, max_chars: int = 400) -> list[str]:
    """Clause-sized passages of policy text: a clause of the document, split at sentence ends when long.

    ``min_chars`` counts normalised characters, so headings and page furniture alone are left out.
    """
    out: list[str] = []
    for text in texts:
        for para in _paragraphs(text):
            piece = ""
            for sentence in _SENTENCE_END.split(para):
                if piece and len(piece) + len(sentence) > max_chars:
                    out.append(piece)
                    piece = ""
                piece = f"{piece} {sentence}".strip()
            out.append(piece)
    return [p for p in out if min_chars <= len(normalise(p)) and len(p) <= 2 * max_chars]


def build_labelled(
    source: Sequence[str],
    rows: int = 10_000,
    *,
    seed: int = 0,
    ngram: int = 5,
    distinct_below: float = 0.4,
    original_share: float = 0.45,
    boilerplate_share: float = 0.1,
) -> LabelledSet:
    """About ``rows`` labelled rows: distinct originals taken from ``source`` passages, plus edited copies.

    Deterministic for a given ``seed``. When ``source`` has too few distinct passages, fewer originals
    get more copies each.
    """
    rng = random.Random(seed)
    pool = list(dict.fromkeys(source))
    rng.shuffle(pool)
    want = max(1, round(rows * original_share))
    headings = sorted({h for p in pool for h in _HEADING.findall(p)}) or ["제1조(목적)"]
    # Take more than needed: some are dropped as too similar, and boilerplate can push pairs together.
    candidates = pool[: int(want * 1.5) + 10]
    n_boiler = int(len(candidates) * boilerplate_share)
    texts, boiler = candidates[n_boiler:], candidates[:n_boiler]
    boiled = _share_boilerplate(boiler, headings, pool[len(candidates) :] or pool, rng)
    texts = boiled + texts
    keep = _distinct(texts, ngram, distinct_below)
    originals = [texts[i] for i in keep][:want]
    boiled_kept = sum(1 for i in keep[: len(originals)] if i < len(boiled))
    dropped = len(texts) - len(keep)

    out = [
        {"id": f"o{i:05d}", "text": t, "cluster": f"o{i:05d}", "edit": "original"}
        for i, t in enumerate(originals)
    ]
    # Copies go to originals in skewed numbers: most get none or one, a few get many.
    weights = [rng.expovariate(1.0) for _ in originals]
    copies: Counter[int] = Counter()
    for origin in rng.choices(range(len(originals)), weights=weights, k=max(0, rows - len(originals))):
        copies[origin] += 1
        text, edit = near_copy(originals[origin], rng)
        out.append(
            {
                "id": f"o{origin:05d}-c{copies[origin]}",
                "text": text,
                "cluster": f"o{origin:05d}",
                "edit": edit,
            }
        )
    rng.shuffle(out)
    return LabelledSet(out, len(originals), dropped_similar=dropped, boilerplate=boiled_kept)


def exact_jaccard(a: str, b: str, ngram: int) -> float:
    sa, sb = shingles(normalise(a), ngram), shingles(normalise(b), ngram)
    return len(sa & sb) / len(sa | sb)


def _paragraphs(text: str) -> Iterable[str]:
    lines: list[str] = []
    for raw in text.replace("\f", "\n\n").splitlines():
        line = raw.strip()
        if _PAGE_NUMBER.match(line):
            continue
        if (not line or _ITEM_START.match(line)) and lines:
            yield " ".join(lines)
            lines = []
        if line:
            lines.append(line)
    if lines:
        yield " ".join(lines)


def _share_boilerplate(
    texts: list[str], headings: list[str], fillers: list[str], rng: random.Random
) -> list[str]:
    """Groups of 2-4 passages behind one article heading and lead-in: distinct items, similar openings.

    Half the groups also share 40-100 characters of another passage, so that some pairs come close to
    the distinctness limit (the closest ones are then dropped by it): the hard case for a dedup.
    """
    out: list[str] = []
    i = 0
    while i < len(texts):
        k = rng.randint(2, 4)
        lead = rng.choice(headings) + rng.choice(_LEADS)
        if rng.random() < 0.5:
            lead += rng.choice(fillers)[: rng.randint(40, 100)] + " "
        out.extend(lead + t for t in texts[i : i + k])
        i += k
    return out


def _distinct(texts: list[str], ngram: int, below: float) -> list[int]:
    """Indices of texts kept greedily in order, so that no two kept ones reach ``below`` Jaccard.

    Exact, over all pairs: a sparse text x shingle matrix times its transpose counts shared shingles.
    """
    vocab: dict[str, int] = {}
    indptr: list[int] = [0]
    indices: list[int] = []
    for t in texts:
        indices.extend(vocab.setdefault(s, len(vocab)) for s in shingles(normalise(t), ngram))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.int32)
    x = sparse.csr_matrix((data, indices, indptr), shape=(len(texts), len(vocab)))
    sizes = np.diff(x.indptr)
    shared = sparse.triu(x @ x.T, k=1).tocoo()
    union = sizes[shared.row] + sizes[shared.col] - shared.data
    close = shared.data >= below * union
    conflicts: dict[int, list[int]] = {}
    for a, b in zip(shared.row[close].tolist(), shared.col[close].tolist(), strict=True):
        conflicts.setdefault(b, []).append(a)
    kept: set[int] = set()
    for i in range(len(texts)):
        if not any(a in kept for a in conflicts.get(i, ())):
            kept.add(i)
    return sorted(kept)
