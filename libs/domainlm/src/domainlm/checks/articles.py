"""Article references (제N조, 제N조의M, and their 항): they must exist and belong to the chunk.

An answer that cites the wrong article reads fine and keeps the chunk's words; it is still wrong, and
a model trained on it learns to cite the wrong place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_ARTICLE = re.compile(r"제\s*(\d+)\s*조(?:\s*의\s*(\d+))?")


def article_refs(text: str) -> set[str]:
    """Normalised article numbers cited in a text.

    >>> sorted(article_refs("제3조(보험금의 지급사유) 및 제 12 조의2에 따라"))
    ['12-2', '3']
    """
    return {m.group(1) + (f"-{m.group(2)}" if m.group(2) else "") for m in _ARTICLE.finditer(text)}


def article_mismatch(
    answer: str, section: str, chunk: str, document_articles: Iterable[str] = ()
) -> str | None:
    """Why the answer's article references do not fit the chunk; None when they all do.

    A reference fits when it names the chunk's own article (its section) or one the chunk itself cites.
    With `document_articles` (the articles the document has), a reference to none of them is told apart.
    """
    own = article_refs(section) | article_refs(chunk)
    known = set(document_articles)
    for ref in sorted(article_refs(answer)):
        if ref in own:
            continue
        shown = "제" + ref.replace("-", "조의") + ("" if "-" in ref else "조")
        if known and ref not in known:
            return f"article-not-in-document: {shown}"
        return f"article-mismatch: {shown} is neither this chunk's article nor one it cites"
    return None
