"""Dedup on a labelled near-duplicate set built from real policy text with known edits."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from corpus import corpus_pdf
from domainlm.dedup import MinhashConfig, NearDuplicateIndex, dedup_rows
from domainlm.dedup.labelled import LabelledSet, build_labelled, exact_jaccard, passages, pdf_texts, score
from domainlm.funnel import Funnel


@pytest.fixture(scope="module")
def labelled() -> LabelledSet:
    # Three of the corpus policies: about half a second of pdftotext, about 900 distinct clauses survive.
    pdfs = [corpus_pdf("05"), corpus_pdf("10"), corpus_pdf("13")]
    return build_labelled(passages(pdf_texts(pdfs)), rows=3000, seed=7)


def test_labelled_set_is_what_it_claims(labelled: LabelledSet) -> None:
    rows = labelled.rows
    assert len(rows) == 3000 and len({r["id"] for r in rows}) == 3000
    originals = [r for r in rows if r["edit"] == "original"]
    assert len(originals) == labelled.originals > 500 and labelled.boilerplate > 20
    by_id = {r["id"]: r["text"] for r in originals}
    copies = [r for r in rows if r["edit"] != "original"]
    assert all(r["cluster"] in by_id for r in copies)
    assert {e for r in copies for e in r["edit"].split("+")} >= {"chars", "particles", "prefix", "reorder"}
    # Distinct by construction: every pair of originals that open alike (a shared heading and lead-in).
    groups: dict[str, list[str]] = {}
    for text in by_id.values():
        groups.setdefault(text[:10], []).append(text)
    pairs = [(a, b) for g in groups.values() for a, b in itertools.combinations(g, 2)]
    assert len(pairs) > 50
    assert max(exact_jaccard(a, b, 5) for a, b in pairs) < 0.4
    again = build_labelled(passages([r["text"] for r in originals]), rows=10, seed=7)
    assert again.rows == build_labelled(passages([r["text"] for r in originals]), rows=10, seed=7).rows


def test_dedup_removes_copies_and_loses_no_distinct_item(labelled: LabelledSet, tmp_path: Path) -> None:
    rows = labelled.rows
    half = len(rows) // 2
    funnel, clusters = Funnel(), {}  # type: ignore[var-annotated]
    config = MinhashConfig()
    # Two runs over a persisted index: the second half is deduplicated against the first.
    first = NearDuplicateIndex(config, tmp_path / "index")
    kept = [
        r["id"] for r in dedup_rows(rows[:half], first, ["text"], funnel, clusters=clusters, batch_size=512)
    ]
    first.save()
    second = NearDuplicateIndex(config, tmp_path / "index")
    kept += [
        r["id"] for r in dedup_rows(rows[half:], second, ["text"], funnel, clusters=clusters, batch_size=512)
    ]

    result = score(rows, kept)
    assert result.removed_share >= 0.95, result
    assert result.lost == 0, result
    assert funnel.stage_summary("dedup")["out"] == len(kept)
    assert sum(len(d) for d in clusters.values()) == len(rows) - len(kept)
    cluster_of = {r["id"]: r["cluster"] for r in rows}
    wrong = sum(cluster_of[d["id"]] != cluster_of[k] for k, ds in clusters.items() for d in ds)
    assert wrong <= 0.002 * len(rows)  # a dropped row joins the cluster of its own origin
