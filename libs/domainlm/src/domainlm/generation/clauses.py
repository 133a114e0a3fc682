"""Reading a chunk's articles for the structure-grounded generator: each article's part, heading,
paragraphs (항) and the sentences, lists, definitions and quantities they hold."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from domainlm.chunking.structure import CIRCLED, Level, heading_title, level_of

_CONTINUED = re.compile(r"^\[(제\s*\d+\s*조[^\]]*?) 계속\]$")
_SENTENCE = re.compile(r"(?<=[다요음함됨])\.\s+|(?<=[다요])\.$")
_LIST_ITEM = re.compile(r"^\s*(\d{1,2})\s*[.)]\s*(.+)$")
_DEFINITION = re.compile(
    r"^\s*(?:\d{1,2}\s*[.)]\s*|[가-하]\s*[.)]\s*)?[\"'“‘「]?(?P<term>[가-힣A-Za-z0-9() ]{2,24}?)[\"'”’」]?"
    r"\s*(?::|：|이란|란|라 함은|이라 함은)\s*(?P<body>.{8,}?(?:말합니다|말한다|뜻합니다|의미합니다)[^.]*\.?)\s*$"
)
# A quantity a question can ask for, and the Korean question word that asks for it.
QUANTITY = re.compile(
    r"(?<![제\d,.])(?P<n>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>영업일|개월|년간|년|일간|일|시간|주|세|%|퍼센트|만원|억원|원|회)"
    r"(?![가-힣]{0,1}[조항호관])"
)
ASK = {
    "영업일": "며칠(영업일)", "개월": "몇 개월", "년간": "몇 년간", "년": "몇 년", "일간": "며칠간", "일": "며칠",
    "시간": "몇 시간", "주": "몇 주", "세": "몇 세", "%": "몇 퍼센트(%)", "퍼센트": "몇 퍼센트",
    "만원": "얼마", "억원": "얼마", "원": "얼마", "회": "몇 회",
}  # fmt: skip


@dataclass
class Paragraph:
    """A 항 (①) of an article, or the article's unnumbered body; its lines as extracted."""

    mark: str  # "①" or ""
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(ln.strip() for ln in self.lines)

    @property
    def label(self) -> str:
        return f" {self.mark}항" if self.mark else ""


@dataclass
class Article:
    book: str  # 보통약관 or the rider's title ("" when the document names none)
    heading: str  # 제3조(보험금의 지급사유)
    continued: bool  # the chunk holds a later piece of it
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.book} {self.heading}".strip() if self.book else f"이 약관 {self.heading}"

    @property
    def text(self) -> str:
        return "\n".join(ln for p in self.paragraphs for ln in p.lines)


def book_of(section: str) -> str:
    """The document part a chunk's section path starts with (the chunker puts it first), if any."""
    first = section.split(" > ")[0]
    return first if re.search(r"(?:약관|특약)$", first) else ""


def articles_of(text: str, section: str) -> list[Article]:
    """The articles a chunk holds, in order; text before its first heading belongs to the article its
    section names (a continuation chunk)."""
    book = book_of(section)
    named = re.findall(r"제\s*\d+\s*조(?:의\s*\d+)?\s*\([^)]*\)", section)
    out: list[Article] = []
    current: Article | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if m := _CONTINUED.match(line):
            current = Article(book, m.group(1), True, [Paragraph("")])
            out.append(current)
            continue
        level = level_of(line)
        if level == Level.ARTICLE:
            heading = heading_title(line, Level.ARTICLE)
            current = Article(book, heading, False, [Paragraph("")])
            out.append(current)
            rest = line[line.find(heading[-1]) + 1 :].strip() if heading else ""
            if rest:
                _add_line(current, rest)
            continue
        if current is None:
            if not named:
                continue  # front matter outside any article: nothing to ask about
            current = Article(book, named[-1], True, [Paragraph("")])
            out.append(current)
        _add_line(current, line)
    return [a for a in out if a.text.strip()]


def _add_line(article: Article, line: str) -> None:
    if line[0] in CIRCLED:
        article.paragraphs.append(Paragraph(line[0], [line[1:].strip()]))
    elif level_of(line) in (Level.ITEM, Level.SUBITEM) or not article.paragraphs[-1].lines:
        article.paragraphs[-1].lines.append(line)
    else:
        # A wrapped line continues the line before it (PDF text layers break lines mid-sentence).
        article.paragraphs[-1].lines[-1] += (
            "" if _joins_tight(article.paragraphs[-1].lines[-1]) else " "
        ) + line


def _joins_tight(previous: str) -> bool:
    return False if not previous else previous[-1] in "(「｢‘“"


def sentences(text: str) -> list[str]:
    """Whole sentences of a paragraph's running text (ending in 다. / 요. …)."""
    parts = _SENTENCE.split(text.strip())
    out = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        out.append(p if p.endswith(".") else p + ".")
    return out


@dataclass
class ListBlock:
    lead: str  # the sentence introducing the list
    items: list[str]


def list_blocks_of(paragraph: Paragraph) -> list[ListBlock]:
    """Numbered lists (1. 2. 3.) with the sentence that introduces them."""
    blocks: list[ListBlock] = []
    lead, items, expected = "", [], 1
    for line in paragraph.lines:
        m = _LIST_ITEM.match(line)
        if m and int(m.group(1)) == expected and (expected > 1 or lead):
            items.append(m.group(2).strip())
            expected += 1
            continue
        if len(items) >= 2:
            blocks.append(ListBlock(lead, items))
        items, expected = [], 1
        lead = sentences(line)[-1] if sentences(line) else ""
        if m and int(m.group(1)) == 1 and lead:
            items, expected = [m.group(2).strip()], 2
    if len(items) >= 2:
        blocks.append(ListBlock(lead, items))
    return [b for b in blocks if b.lead and ("다음" in b.lead or b.lead.endswith(":"))]


def definitions_of(paragraph: Paragraph) -> list[tuple[str, str, str]]:
    """(term, definition, source line) for lines that define a term (용어: …을 말합니다)."""
    found = []
    for line in paragraph.lines:
        if m := _DEFINITION.match(line):
            term = m.group("term").strip()
            if not re.search(r"\d", term) and len(term.split()) <= 4:
                found.append((term, m.group("body").strip(), line.strip()))
    return found


def as_question(sentence: str, quantity: re.Match[str]) -> str | None:
    """The sentence asked back with its quantity replaced by the question word, in the formal style
    the terms use (…합니다. → …합니까?); None when the sentence does not end in that style."""
    if not sentence.endswith("니다."):
        return None
    asked = sentence[: quantity.start()] + ASK[quantity.group("unit")] + sentence[quantity.end() :]
    return asked[: -len("니다.")] + "니까?"
