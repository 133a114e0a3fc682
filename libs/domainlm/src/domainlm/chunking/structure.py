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


def level_of(line: str) -> Level | None:
    """The structural level a line opens, if any.

    >>> level_of("제3조(보상하는 손해) 회사는 ..."), level_of("① 회사는"), level_of("제3조에 따라")
    (<Level.ARTICLE: 2>, <Level.PARAGRAPH: 3>, None)
    """
    for level, pattern in _PATTERNS:
        if pattern.match(line):
            return level
    return None


def heading_title(line: str, level: Level) -> str:
    """The title a heading line carries: `제3조(보상하는 손해)` or `제2관 보험금의 지급`."""
    pattern = _ARTICLE_TITLE if level == Level.ARTICLE else _PART_TITLE
    m = pattern.match(line)
    text = m.group(1) if m else line.strip()[:60]
    return re.sub(r"\s+", " ", text).strip()


def split_inline_markers(line: str) -> list[str]:
    """Text layers often run paragraphs together (`... 봅니다. ⑦ 보험회사는 ...`); split them apart.

    Also splits an article heading that follows a sentence end on the same line.
    """
    pieces = re.split(rf"(?<=[.。])\s+(?=[{CIRCLED}]|제\s*\d+\s*조(?:의\s*\d+)?\s*\()", line)
    return [p for p in pieces if p.strip()]
