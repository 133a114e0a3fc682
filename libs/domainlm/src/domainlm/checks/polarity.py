"""Does the answer assert what its source denies, or deny what it asserts?"""

from __future__ import annotations

import re

from domainlm.checks.morphology import Predicate, PredicateReader
from domainlm.textsim import containment

# A yes/no reply word is not the answer's claim: "아니요, 지급하지 않습니다" asserts a negative once.
_REPLY = re.compile(r"^\s*(?:네|예|아니요|아니오|아뇨)\s*[,.]?\s*")
_SENTENCE = re.compile(r"(?<=[다요][.?!])\s*|\n+")
# A line break inside a sentence is the PDF's wrap, unless a list item starts on the next line.
_WRAP = re.compile(r"\n(?!\s*(?:\d{1,2}\.|[가-하]\.|[①-⑳]|\d{1,2}\)|\[))")


# "제30조에 따르면", "약관에 따라": where a claim comes from, not a claim that one follows something.
_ACCORDING = re.compile(r"(?<=[가-힣0-9)])\s*(?:에|에서)\s*(?:따르면|의하면)\s*,?")


def without_sources(text: str) -> str:
    """The text with its "according to …" phrases reduced to their noun.

    >>> without_sources("제30조에 따르면, 계약을 해지할 수 있습니다.")
    '제30조  계약을 해지할 수 있습니다.'
    """
    return _ACCORDING.sub(" ", text)


def sentences(text: str) -> list[str]:
    r"""Sentences and list items, with the PDF's line wraps joined.

    >>> sentences("회사는 보상하지\n않습니다.\n1. 고의로 인한 손해")
    ['회사는 보상하지 않습니다.', '1. 고의로 인한 손해']
    """
    return [s.strip() for s in _SENTENCE.split(_WRAP.sub(" ", text)) if s and s.strip()]


def strip_reply(answer: str) -> str:
    return _REPLY.sub("", answer, count=1)


def polarity_conflict(answer: str, source: str, reader: PredicateReader, given: str = "") -> str | None:
    """Why the answer's polarity contradicts the source, or None.

    Each predicate of the answer is compared with the same lemma in the source. Where the source says
    both (지급하지 않습니다 … 다만 … 지급합니다), the source sentence most like the answer's sentence decides.
    Predicates the answer repeats from `given` (the question, the article title: 보상하지 않는 손해는 …)
    frame the answer rather than claim anything, and are not compared.
    """
    by_sentence = [(s, reader.predicates(without_sources(s))) for s in sentences(source)]
    framing = {(p.lemma, p.positive) for p in reader.predicates(given)} if given else set()
    for clause in sentences(strip_reply(answer)):
        for p in reader.predicates(without_sources(clause)):
            if p.modifier and (p.lemma, p.positive) in framing:
                continue
            found = [(s, q) for s, preds in by_sentence for q in preds if q.lemma == p.lemma]
            # A claim is compared with the source's claims, a modifier with its modifiers, where it has both.
            found = [(s, q) for s, q in found if q.modifier == p.modifier] or found
            polarities = {q.positive for _, q in found}
            if not found or polarities == {p.positive}:
                continue
            if len(polarities) == 2:
                best = max((sentence for sentence, _ in found), key=lambda t: containment(clause, t))
                if any(q.positive == p.positive for t, q in found if t == best):
                    continue
            return f"polarity-flipped: {_show(p)} where the source says {_show(Predicate(p.lemma, not p.positive, 0))}"
    return None


def _show(p: Predicate) -> str:
    return f"{p.lemma}다" if p.positive else f"{p.lemma}지 않다"
