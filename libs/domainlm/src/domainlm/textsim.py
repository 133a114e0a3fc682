"""Character-level text similarity for Korean, where word boundaries say little."""

from __future__ import annotations

import re
import unicodedata

_NOT_ALNUM = re.compile(r"[\W_]+")  # \W is the complement of str.isalnum() plus "_"; it covers spaces


def squash(text: str) -> str:
    """NFKC, case-folded, with every character that is not a letter or a digit removed.

    >>> squash("제3조(보상하는  손해) ①Ａ")
    '제3조보상하는손해1a'
    """
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def char_ngrams(text: str, n: int = 2) -> set[str]:
    s = squash(text)
    if len(s) < n:
        return {s} if s else set()
    return {s[i : i + n] for i in range(len(s) - n + 1)}


def containment(part: str, whole: str, n: int = 2) -> float:
    """Share of `part`'s character n-grams found in `whole` (1.0 = every piece of it is there).

    >>> containment("보험금을 지급합니다", "회사는 보험금을 지급합니다.")
    1.0
    """
    grams = char_ngrams(part, n)
    if not grams:
        return 0.0
    return len(grams & char_ngrams(whole, n)) / len(grams)


def jaccard(a: str, b: str, n: int = 2) -> float:
    ga, gb = char_ngrams(a, n), char_ngrams(b, n)
    return len(ga & gb) / len(ga | gb) if ga or gb else 1.0
