"""Splits a document's pages into chunks along its own structure, bounded by tokens.

An article (조) is the natural unit. A long article is split between its paragraphs/items, and only a
paragraph that alone exceeds the bound is split between sentences; a cut never falls inside a sentence.
Short neighbouring articles of the same part are merged so the teacher gets enough context per prompt.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby

from pydantic import BaseModel, Field

from domainlm.checks.articles import article_refs
from domainlm.chunking.structure import (
    Level,
    book_title,
    heading_title,
    level_of,
    restarts,
    split_inline_markers,
)
from domainlm.chunking.tokens import TokenCounter
from domainlm.funnel import Funnel
from domainlm.records import Chunk, Page, content_id

_SENTENCE_END = re.compile(r"(?<=[.?!。])\s+")
_TERMINATED = re.compile(r"[.?!。)\]」』]\s*$")


def _article_order(ref: str) -> tuple[int, ...]:
    return tuple(int(n) for n in ref.split("-"))


class ChunkSettings(BaseModel):
    max_tokens: int = Field(512, ge=32, description="upper bound of a chunk, in teacher tokens")
    min_tokens: int = Field(96, ge=0, description="shorter articles are merged with their neighbours")
    min_chars: int = Field(40, description="chunks with less text than this are dropped as empty")
    header_share: float = Field(
        0.5, description="a line repeated on at least this share of pages is a running header/footer"
    )


@dataclass
class _Atom:
    """A sentence-or-smaller piece of text on one page."""

    text: str
    page: int


@dataclass
class _Piece:
    """Text destined for one chunk (before merging)."""

    part: str
    titles: list[str]
    atoms: list[_Atom] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(a.text for a in self.atoms)


def _running_lines(pages: list[Page], share: float) -> set[str]:
    """Lines that repeat across pages (headers, footers, page numbers), digits ignored."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({re.sub(r"\d+", "#", ln.strip()) for ln in page.text.splitlines() if ln.strip()})
    return {ln for ln, n in counts.items() if n >= share * len(pages) and len(ln) < 80}


# A table-of-contents entry: a title, a run of leader dots, a page number ("제1조(목적) ······ 9").
_CONTENTS_LINE = re.compile(r"(?:[·.…‥・]\s*){5,}\s*-?\s*\d{1,4}\s*-?\s*$")


def _lines(pages: list[Page], share: float) -> Iterator[tuple[str, int]]:
    running = _running_lines(pages, share)
    for page in pages:
        for raw in page.text.splitlines():
            line = raw.strip()
            if not line or re.sub(r"\d+", "#", line) in running or re.fullmatch(r"[-–—\s\d]+", line):
                continue
            if _CONTENTS_LINE.search(line):
                continue  # the contents list the articles; their text is where they are
            for piece in split_inline_markers(line):
                yield piece.strip(), page.page


def _front_matter_untitled(
    articles: list[tuple[_Piece, list[list[_Atom]]]],
) -> list[tuple[_Piece, list[list[_Atom]]]]:
    """Headings before the document's first part are front matter (a summary, a glossary, notes for
    the buyer) quoting articles, not the articles: their text keeps no article title. Unless they
    start at 제1조, which means a part whose title was not recognised."""
    first = next((i for i, (piece, _) in enumerate(articles) if piece.part), None)
    if not first:
        return articles
    before = [t for piece, _ in articles[:first] for t in piece.titles]
    if any(re.match(r"제\s*1\s*조(?!\s*의)", t) for t in before):
        return articles
    return [(_Piece("", []), segs) for piece, segs in articles[:first]] + articles[first:]


def _first_book(pages: list[Page]) -> str:
    """The part the document opens with: the first part title before any article (running headers
    included, as a policy often names itself only there), else none."""
    for page in pages:
        for line in page.text.splitlines():
            if level_of(line) == Level.ARTICLE:
                return ""
            if title := book_title(line.strip()):
                return title
    return ""


class StructureChunker:
    """Stage: pages of documents in, chunks out (pages must arrive grouped by document)."""

    name = "chunk"

    def __init__(self, settings: ChunkSettings | None = None, count_tokens: TokenCounter | None = None):
        self.settings = settings or ChunkSettings()
        self.count = count_tokens or TokenCounter()

    def run(self, records: Iterable[Page], funnel: Funnel) -> Iterator[Chunk]:
        for doc_id, group in groupby(records, key=lambda p: p.doc_id):
            pages = sorted(group, key=lambda p: p.page)
            funnel.saw(self.name)
            chunks = list(self.chunk_document(pages))
            if not chunks:
                funnel.reject(self.name, "no-text", doc_id, f"{pages[0].source}: no chunkable text")
            for chunk in chunks:
                funnel.passed_on(self.name)
                yield chunk

    def chunk_document(self, pages: list[Page]) -> Iterator[Chunk]:
        pieces = list(self._merge_small(self._split_long(self._articles(pages))))
        # Every chunk carries its document's article numbers: the generator sees one chunk at a time
        # (over Kafka too), and the article check needs to know what the whole document holds.
        articles = sorted(
            set().union(*(article_refs(t) for p in pieces for t in p.titles)), key=_article_order
        )
        index = 0
        for piece in pieces:
            text = piece.text.strip()
            if len(text) < self.settings.min_chars:
                continue
            section = " > ".join(t for t in [piece.part, " · ".join(dict.fromkeys(piece.titles))] if t)
            yield Chunk(
                id=content_id(pages[0].doc_id, index, text),
                doc_id=pages[0].doc_id,
                source=pages[0].source,
                index=index,
                pages=sorted({a.page for a in piece.atoms}),
                section=section,
                text=text,
                tokens=self.count(text),
                document_articles=articles,
            )
            index += 1

    def _articles(self, pages: list[Page]) -> list[tuple[_Piece, list[list[_Atom]]]]:
        """Each article with its segments (a segment starts at a 항/호/목 marker).

        A piece's `part` is its place above the article: the document part (보통약관, or the rider by
        its title) and the 관, so two riders' 제1조 are different places.
        """
        articles: list[tuple[_Piece, list[list[_Atom]]]] = []
        book, pending, part = _first_book(pages), "", ""
        current: tuple[_Piece, list[list[_Atom]]] | None = None
        for line, page in _lines(pages, self.settings.header_share):
            level = level_of(line)
            # A numbered part title (`3) 가족 운전자한정 특별약관`) also reads as a 호 item.
            if level in (None, Level.ITEM) and (title := book_title(line)):
                pending = title  # committed only if the numbering restarts next (a contents line does not)
            elif level in (Level.PART, Level.ARTICLE):
                if pending and restarts(line, level):
                    book, part = pending, ""
                pending = ""
            if level == Level.PART:
                part = " > ".join(t for t in (book, heading_title(line, level)) if t)
                continue
            if level == Level.ARTICLE and not part.startswith(book):
                part = book
            if level == Level.ARTICLE or current is None:
                title = heading_title(line, Level.ARTICLE) if level == Level.ARTICLE else ""
                current = (_Piece(part=part, titles=[title] if title else []), [[]])
                articles.append(current)
            elif level is not None and current[1][-1]:
                current[1].append([])
            current[1][-1].append(_Atom(line, page))
        return _front_matter_untitled(articles)

    def _split_long(self, articles: list[tuple[_Piece, list[list[_Atom]]]]) -> Iterator[_Piece]:
        limit = self.settings.max_tokens
        for head, segments in articles:
            atoms = [a for seg in segments for a in seg]
            if self.count("\n".join(a.text for a in atoms)) <= limit:
                yield _Piece(head.part, head.titles, atoms)
                continue
            # Too long: pack whole segments; a segment over the bound is packed sentence by sentence.
            units: list[list[_Atom]] = []
            for seg in segments:
                if self.count("\n".join(a.text for a in seg)) <= limit:
                    units.append(seg)
                else:
                    units.extend([s] for s in self._sentences(seg))
            yield from self._pack(head, units)

    def _sentences(self, segment: list[_Atom]) -> Iterator[_Atom]:
        """Sentences of a segment; a sentence spanning pages is attributed to the page it starts on."""
        buffer: list[_Atom] = []
        for atom in segment:
            for frag in _SENTENCE_END.split(atom.text):
                buffer.append(_Atom(frag, atom.page))
                if _TERMINATED.search(frag):
                    yield from self._bounded(_Atom(" ".join(b.text for b in buffer), buffer[0].page))
                    buffer = []
        if buffer:
            yield from self._bounded(_Atom(" ".join(b.text for b in buffer), buffer[0].page))

    def _bounded(self, sentence: _Atom) -> Iterator[_Atom]:
        """The last resort for a "sentence" longer than a chunk (a table run together): cut at spaces."""
        if self.count(sentence.text) <= self.settings.max_tokens:
            yield sentence
            return
        words, part = sentence.text.split(" "), ""
        for word in words:
            if part and self.count(part + " " + word) > self.settings.max_tokens * 0.9:
                yield _Atom(part, sentence.page)
                part = ""
            part = f"{part} {word}".strip()
        if part:
            yield _Atom(part, sentence.page)

    def _pack(self, head: _Piece, units: list[list[_Atom]]) -> Iterator[_Piece]:
        limit = self.settings.max_tokens
        out = _Piece(head.part, head.titles)
        for unit in units:
            candidate = out.atoms + unit
            if out.atoms and self.count("\n".join(a.text for a in candidate)) > limit:
                yield out
                # A continuation chunk names its article, so questions about it stay answerable.
                out = _Piece(head.part, head.titles)
                if head.titles:
                    out.atoms.append(_Atom(f"[{head.titles[0]} 계속]", unit[0].page))
            out.atoms.extend(unit)
        if out.atoms:
            yield out

    def _merge_small(self, pieces: Iterable[_Piece]) -> Iterator[_Piece]:
        s = self.settings
        held: _Piece | None = None
        for piece in pieces:
            if held is None:
                held = piece
                continue
            fits = self.count(held.text + "\n" + piece.text) <= s.max_tokens
            if held.part == piece.part and fits and self.count(held.text) < s.min_tokens:
                held = _Piece(held.part, held.titles + piece.titles, held.atoms + piece.atoms)
            else:
                yield held
                held = piece
        if held is not None:
            yield held
