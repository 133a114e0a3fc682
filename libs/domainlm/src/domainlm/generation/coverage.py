"""How well generated items cover a document: the share of its articles that yield a kept item, and
of the articles a set of human-written questions rests on (`(제21조 ②항 5호 참조)` in their answers)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from domainlm.generation.clauses import articles_of, book_of
from domainlm.records import Chunk, Sample
from domainlm.textsim import jaccard

_ARTICLE = re.compile(r"제\s*(\d+)\s*조(?:\s*의\s*(\d+))?")


def article_key(text: str) -> str | None:
    """`제12조의2(…)` → `12-2`; None when the text names no article."""
    m = _ARTICLE.search(text)
    return None if m is None else m.group(1) + (f"-{m.group(2)}" if m.group(2) else "")


def document_articles(chunks: Iterable[Chunk]) -> set[tuple[str, str, str]]:
    """(doc, part, article) of every article heading the chunks hold."""
    found = set()
    for c in chunks:
        for a in articles_of(c.text, c.section):
            if (key := article_key(a.heading)) is not None:
                found.add((c.doc_id, a.book, key))
    return found


def _item_article(sample: Sample) -> tuple[str, str, str] | None:
    # Structure items name their article at the start of the question; others by their chunk's section.
    where = (
        sample.instruction if sample.provenance.teacher_model == "structure" else sample.provenance.section
    )
    key = article_key(where.split(" > ")[-1]) if " > " in where else article_key(where)
    if key is None:
        return None
    return sample.provenance.doc_id, book_of(sample.provenance.section), key


def coverage(chunks: Sequence[Chunk], samples: Sequence[Sample]) -> dict[str, Any]:
    """Articles with at least one item, per document part, and quality figures of the items."""
    articles = document_articles(chunks)
    covered = {k for s in samples if (k := _item_article(s)) is not None} & articles
    by_doc: Counter[str] = Counter(s.provenance.doc_id + "\x1f" + s.instruction for s in samples)
    mcq = [s for s in samples if s.choices and s.answer_index is not None]
    overlaps = [
        jaccard(c, s.choices[s.answer_index])  # type: ignore[index]
        for s in mcq
        for i, c in enumerate(s.choices or [])
        if i != s.answer_index
    ]
    return {
        "articles": len(articles),
        "articles_with_items": len(covered),
        "article_share": round(len(covered) / len(articles), 4) if articles else None,
        "items": len(samples),
        "duplicate_questions": sum(n - 1 for n in by_doc.values() if n > 1),
        "mean_distractor_overlap": round(sum(overlaps) / len(overlaps), 4) if overlaps else None,
        "missing": sorted(f"{b} 제{k}조".strip() for _, b, k in articles - covered)[:50],
    }


def referenced_articles(answers: Iterable[str]) -> set[str]:
    """Article keys cited in human answers (`제21조 ②항 5호`, `제23조 15호`)."""
    keys = set()
    for answer in answers:
        for m in _ARTICLE.finditer(answer):
            keys.add(m.group(1) + (f"-{m.group(2)}" if m.group(2) else ""))
    return keys


def question_set_coverage(
    questions: Sequence[dict[str, Any]], samples: Sequence[Sample], part: str = ""
) -> dict[str, Any]:
    """Share of the articles a question set rests on that have at least one kept item (in `part`, the
    document part the questions are about, e.g. the main terms; any part when empty)."""
    wanted = referenced_articles(str(q.get("answer", "")) for q in questions)
    have = {k[2] for s in samples if (k := _item_article(s)) is not None and (not part or part in k[1])}
    hit = wanted & have
    return {
        "questions": len(questions),
        "articles_referenced": len(wanted),
        "articles_with_items": len(hit),
        "share": round(len(hit) / len(wanted), 4) if wanted else None,
        "missing": sorted(wanted - have, key=lambda k: tuple(int(x) for x in k.split("-"))),
    }
