"""Recognising the structural markers of Korean statutes and policy terms.

관 (part) > 조 (article, `제3조(보상하는 손해)`) > 항 (`①`) > 호 (`1.`) > 목 (`가.`).
"""

from __future__ import annotations

import re
from enum import IntEnum


class Level(IntEnum):
    PART = 1  # 제1관 목적 및 용어의 정의
    ARTICLE = 2  # 제1조(목적)
    PARAGRAPH = 3  # ①
    ITEM = 4  # 1.
    SUBITEM = 5  # 가.


CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"

_PATTERNS: list[tuple[Level, re.Pattern[str]]] = [
    (Level.PART, re.compile(r"^\s*제\s*\d+\s*관\s*\S")),
    # An article heading: 제3조(보상하는 손해), 제3조의2(…), 제 3 조 (…); a reference such as
    # "제3조에 따라" has no bracketed title right after the number and is not a heading.
    (Level.ARTICLE, re.compile(r"^\s*제\s*\d+\s*조(?:\s*의\s*\d+)?\s*[(（【\[]")),
    (Level.PARAGRAPH, re.compile(rf"^\s*[{CIRCLED}]")),
    (Level.ITEM, re.compile(r"^\s*\d{1,2}\s*[.)]\s")),
    (Level.SUBITEM, re.compile(r"^\s*[가나다라마바사아자차카타파하]\s*[.)]\s")),
]

_ARTICLE_TITLE = re.compile(r"^\s*(제\s*\d+\s*조(?:\s*의\s*\d+)?\s*[(（【\[][^)）】\]\n]{0,60}[)）】\]])")
_PART_TITLE = re.compile(r"^\s*(제\s*\d+\s*관[^\n]{0,60})")


# A title followed by a particle is a citation that a line break put first ("제3조(의료기관)의 규정에
# 따른"), not a heading.
_CITATION = re.compile(
    r"^\s*제\s*\d+\s*조(?:\s*의\s*\d+)?\s*[(（【\[][^)）】\]\n]{0,60}[)）】\]]\s*(?:의|에|에서|을|를|과|와|및|에\s*따)\s"
)

# A part of the document: the main terms (보통약관) or one rider (특별약관/특약), alone on its line and
# optionally numbered (`3) 가족 운전자한정 특별약관`, `xx. 실손의료보험 중지 및 재개 특별약관`).
_BOOK = re.compile(
    r"^\s*(?:(?:\d{1,2}|[a-zA-Z]{1,2})\s*[.)]?\s*)?(?P<title>[^.。,:;·]{0,50}?(?:보통약관|특별약관|특약))\s*$"
)


def level_of(line: str) -> Level | None:
    """The structural level a line opens, if any.

    >>> level_of("제3조(보상하는 손해) 회사는 ..."), level_of("① 회사는"), level_of("제3조에 따라")
    (<Level.ARTICLE: 2>, <Level.PARAGRAPH: 3>, None)
    >>> level_of("제3조(의료기관)의 규정에 따른 종합병원")
    """
    for level, pattern in _PATTERNS:
        if pattern.match(line):
            if level == Level.ARTICLE and _CITATION.match(line):
                return None
            return level
    return None


def book_title(line: str) -> str | None:
    """The title of a document part a line may open (보통약관, a named 특별약관), else None.

    Only a candidate: a contents page lists the same lines, so the chunker commits a part only when
    its articles restart at 제1조 (or 제1관) after it.

    >>> book_title("3) 가족 운전자한정 특별약관"), book_title("1개월 이내에 이 특별약관")
    ('가족 운전자한정 특별약관', None)
    >>> book_title("-목 차1) 운전자연령 만 21세 이상 운전자한정 특별약관")
    """
    m = _BOOK.match(line)
    if not m:
        return None
    title = re.sub(r"\s+", " ", m.group("title")).strip()
    # A sentence broken before "이 특별약관" / "보통약관" is prose, not a heading.
    if (
        len(title) < 4
        or re.search(r"목\s*차", title)
        or re.search(r"(?:^|\s)(?:이|그|본|각|해당|당사의|에|를|을)\s*(?:보통약관|특별약관|특약)$", title)
    ):
        return None
    if re.search(r"(?:에|을|를|의|로|는|은|이|가|고|며|여|서)\s", title + " ") and len(title.split()) > 6:
        return None
    return title


def restarts(line: str, level: Level) -> bool:
    """Whether a heading restarts the numbering (제1조, 제1관): where a new part begins."""
    return bool(re.match(r"^\s*제\s*1\s*(?:조|관)(?!\s*의)", line)) and level in (Level.ARTICLE, Level.PART)


def heading_title(line: str, level: Level) -> str:
    """The title a heading line carries: `제3조(보상하는 손해)` or `제2관 보험금의 지급`."""
    pattern = _ARTICLE_TITLE if level == Level.ARTICLE else _PART_TITLE
    m = pattern.match(line)
    text = re.sub(r"\s+", " ", m.group(1) if m else line.strip()[:60]).strip()
    if level == Level.ARTICLE:  # one spelling per article: 제 3 조 (…) and 제3조(…) are the same place
        text = re.sub(
            r"^제\s*(\d+)\s*조(?:\s*의\s*(\d+))?\s*",
            lambda n: f"제{n[1]}조" + (f"의{n[2]}" if n[2] else ""),
            text,
        )
    return text


def split_inline_markers(line: str) -> list[str]:
    """Text layers often run paragraphs together (`... 봅니다. ⑦ 보험회사는 ...`); split them apart.

    Also splits an article heading that follows a sentence end on the same line.
    """
    pieces = re.split(rf"(?<=[.。])\s+(?=[{CIRCLED}]|제\s*\d+\s*조(?:의\s*\d+)?\s*\()", line)
    return [p for p in pieces if p.strip()]
