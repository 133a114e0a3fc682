"""Known edits that turn a passage into a near-duplicate copy, as people and LLMs make them."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

_CLAUSE_SPLIT = re.compile(r"(?<=[다요음함임]\.)\s+|(?<=,)\s+")
# A particle after a noun; the excluded syllables end verbs and adverbs (하는, 있는, 또는, 않은, 때에는).
_PARTICLE = re.compile(
    r"(?<=[가-힣])(?<![또있않받하없되였었같입남함할될에])(으로|에서|에게|은|는|이|가|을|를|와|과|로)(?=[\s,.])"
)
_SWAP = {"은": "는", "는": "은", "이": "가", "가": "이", "을": "를", "를": "을", "와": "과", "과": "와"}
_SWAP |= {"으로": "로", "로": "으로", "에서": "에", "에게": "한테"}
_PREFIXES = ["참고: ", "다음 내용을 확인하세요. ", "[약관 발췌] ", "Q. ", "※ ", "요약하면, ", "답변: "]
_SUFFIXES = [" 자세한 내용은 약관을 참조하세요.", " (끝)", " 이상입니다.", " 감사합니다.", " [출처: 약관]"]
_PUNCT_SWAPS = [(".", "。"), (",", "、"), ("(", "["), (")", "]"), (".", ""), (",", ""), (" ", ", ")]


def _chars(text: str, rng: random.Random) -> str:
    """Typos: deletions, insertions and substitutions of 1-4% of the characters."""
    chars = list(text)
    for _ in range(max(1, round(len(text) * rng.uniform(0.01, 0.04)))):
        pos = rng.randrange(len(chars))
        op = rng.random()
        if op < 1 / 3 and len(chars) > 1:
            del chars[pos]
        elif op < 2 / 3:
            chars.insert(pos, rng.choice(text))
        else:
            chars[pos] = rng.choice(text)
    return "".join(chars)


def _spacing(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    joined = "".join(w + (" " if rng.random() < 0.5 else "") for w in words).strip()
    return "".join(c + (" " if rng.random() < 0.05 else "") for c in joined)


def _punctuation(text: str, rng: random.Random) -> str:
    for old, new in rng.sample(_PUNCT_SWAPS, 3):
        text = text.replace(old, new, rng.randint(1, 3))
    return text + rng.choice(["", ".", "!", "?", " …"])


def _particles(text: str, rng: random.Random) -> str:
    spots = list(_PARTICLE.finditer(text))
    for m in sorted(rng.sample(spots, min(len(spots), rng.randint(1, 3))), key=lambda m: -m.start()):
        text = text[: m.start()] + _SWAP[m.group()] + text[m.end() :]
    return text


def _prefix(text: str, rng: random.Random) -> str:
    return rng.choice(_PREFIXES) + text


def _suffix(text: str, rng: random.Random) -> str:
    return text + rng.choice(_SUFFIXES)


def _reorder(text: str, rng: random.Random) -> str:
    parts = [p for p in _CLAUSE_SPLIT.split(text) if p]
    if len(parts) < 2:  # one clause: swap its halves at a space
        spaces = [i for i, c in enumerate(text) if c == " "]
        if not spaces:
            return text
        cut = spaces[len(spaces) // 2]
        return f"{text[cut + 1 :]} {text[:cut]}"
    i = rng.randrange(len(parts) - 1)
    parts[i], parts[i + 1] = parts[i + 1], parts[i]
    return " ".join(parts)


def _truncate(text: str, rng: random.Random) -> str:
    return text[: len(text) - max(1, int(len(text) * rng.uniform(0.02, 0.1)))]


_EDITS: dict[str, tuple[Callable[[str, random.Random], str], float]] = {
    "chars": (_chars, 3.0),
    "spacing": (_spacing, 1.5),
    "punctuation": (_punctuation, 1.5),
    "particles": (_particles, 1.5),
    "prefix": (_prefix, 1.0),
    "suffix": (_suffix, 1.0),
    "reorder": (_reorder, 1.0),
    "truncate": (_truncate, 1.0),
}


def near_copy(text: str, rng: random.Random) -> tuple[str, str]:
    """An edited copy and the names of its edits ("exact" for an unchanged copy)."""
    if rng.random() < 0.05:
        return text, "exact"
    names = list(_EDITS)
    ops = rng.sample(names, k=rng.choice([1, 1, 1, 2, 2, 3]), counts=[int(_EDITS[n][1] * 2) for n in names])
    ops = list(dict.fromkeys(ops))
    copy = text
    for op in ops:
        copy = _EDITS[op][0](copy, rng)
    if copy == text:  # e.g. no particle to swap: a typo makes it a real edit
        copy, ops = _chars(copy, rng), [*ops, "chars"]
    return copy, "+".join(ops)
