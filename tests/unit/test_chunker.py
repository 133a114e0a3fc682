"""Structure-aware chunking over the project's sample policy text."""

from __future__ import annotations

import re

from corpus import SAMPLE_TEXT, text_pages
from domainlm.chunking import ChunkSettings, StructureChunker
from domainlm.funnel import Funnel
from domainlm.records import Page

TEXT = SAMPLE_TEXT
pages = text_pages


def test_chunks_follow_articles_and_know_their_pages_and_section() -> None:
    chunks = list(StructureChunker(ChunkSettings(max_tokens=256, min_tokens=0)).run(pages(), Funnel()))
    sections = [c.section for c in chunks]
    # The part (the main terms, named in the title line) leads the path, so riders are told apart.
    assert (
        "도메인LM 예시 상해보험 보통약관 > 제2관 보험금의 지급 > 제4조(보험금을 지급하지 않는 사유)"
        in sections
    )
    assert all(c.tokens <= 256 for c in chunks)
    for c in chunks:
        # Text under an article's title belongs to that article: no other article heading inside.
        own = re.match(r"(?:.* > )?제(\d+)조", c.section)
        headings = re.findall(r"^제(\d+)조\(", c.text, flags=re.M)
        assert set(headings) <= ({own.group(1)} if own else set()), (c.section, headings)
    # Every article of the text is in some chunk.
    for n in range(1, 19):
        assert any(f"제{n}조(" in c.text for c in chunks), n
    # Each chunk carries its document's articles, in order, for the article check.
    assert {tuple(c.document_articles) for c in chunks} == {tuple(str(n) for n in range(1, 19))}


def test_long_articles_split_on_items_never_mid_sentence() -> None:
    # 160 tokens holds the longest sentence of the text, so no split may fall inside a sentence.
    chunks = list(StructureChunker(ChunkSettings(max_tokens=160, min_tokens=0)).run(pages(), Funnel()))
    article4 = [c for c in chunks if "제4조" in c.section]
    assert len(article4) >= 2, "a long article must be split"
    assert all("계속" in c.text.splitlines()[0] for c in article4[1:]), "continuations repeat the heading"
    line_ends = {line.strip()[-12:] for line in TEXT.splitlines() if line.strip()}
    for c in chunks:
        assert c.tokens <= 160
        tail = c.text.rstrip()[-12:]
        assert tail.endswith("다.") or tail in line_ends, f"chunk ends mid-sentence: ...{tail}"


def test_running_headers_are_removed() -> None:
    header = "도메인LM 예시 상해보험 보통약관 - 예시"
    with_headers = [p.model_copy(update={"text": f"{header}\n{p.text}\n- {p.page} -"}) for p in pages()]
    chunks = list(StructureChunker().run(with_headers, Funnel()))
    assert not any(header in c.text for c in chunks)


def test_a_document_without_text_is_reported() -> None:
    funnel = Funnel()
    empty = [Page(source="e.pdf", doc_id="e", page=1, text="   ", method="ocr")]
    assert list(StructureChunker().run(empty, funnel)) == []
    assert funnel.reasons["chunk"]["no-text"] == 1
