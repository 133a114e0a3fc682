"""Predicates and their polarity in Korean text, for the polarity check.

A wrong answer written in the chunk's own words most often flips one predicate: 지급합니다 for
지급하지 않습니다, 있습니다 for 없습니다. Finding the predicate and what negates it needs morphology
(지급하여야 합니다, 지급받을 수 없습니다, 보상하지 아니합니다 are all one lemma, two polarities), so the
default reads them with Kiwi (kiwipiepy), a maintained analyser; a regex reader stays as the baseline
the benchmark compares it against.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol


@dataclass(frozen=True)
class Predicate:
    """One predicate: its lemma (e.g. 지급하), whether it is asserted, and the sentence it sits in."""

    lemma: str
    positive: bool
    sentence: int
    modifier: bool = False  # 보상하지 않는 (손해): it names a thing, it does not claim


class PredicateReader(Protocol):
    name: str

    def predicates(self, text: str) -> list[Predicate]: ...


# Lemmas that are the negation of another: 없다 is "not 있다", 아니다 is "not 이다", 제외 is "not 포함".
_ANTONYM = {
    "없": "있",
    "아니": "이",
    "제외하": "포함하",
    "제외되": "포함되",
    "불가능하": "가능하",
    "불가": "가능",
}
_NEGATING_AUX = {"않", "아니하", "못하", "말"}  # -지 않다 / -지 아니하다 / -지 못하다 / -지 말다
_NEGATING_ADVERB = {"안", "못"}
_VERB_SUFFIX = {"XSV", "XSA"}  # 지급 + 하 → 지급하


class KiwiReader:
    """Predicates from Kiwi's morphemes; one analyser per process, loaded on first use (about 1 s)."""

    name = "kiwi"
    _lock = threading.Lock()
    _kiwi: Any = None

    @classmethod
    def _analyser(cls) -> Any:
        with cls._lock:
            if cls._kiwi is None:
                from kiwipiepy import Kiwi  # heavy: imported where it is used

                cls._kiwi = Kiwi()
            return cls._kiwi

    def predicates(self, text: str) -> list[Predicate]:
        return list(_kiwi_predicates(text))


@lru_cache(maxsize=65536)
def _kiwi_predicates(text: str) -> tuple[Predicate, ...]:
    tokens = [(t.form, t.tag.split("-")[0]) for t in KiwiReader._analyser().tokenize(text)]
    out: list[Predicate] = []
    sentence = 0
    i = 0
    while i < len(tokens):
        form, tag = tokens[i]
        head = i  # where the predicate starts, for a negating adverb before it (안 / 못)
        if tag == "SF" or (tag == "EF" and i + 1 < len(tokens) and tokens[i + 1][1] != "SF"):
            sentence += 1
        lemma = None
        if tag in ("NNG", "XR") and i + 1 < len(tokens) and tokens[i + 1][1] in _VERB_SUFFIX:
            lemma = form + tokens[i + 1][0]
            i += 1
        elif tag == "NNG" and i + 1 < len(tokens) and tokens[i + 1] == ("받", "VV"):
            lemma = form + "받"
            i += 1
        elif tag in ("VV", "VA", "VCN") or (tag == "NNG" and form in _ANTONYM):
            lemma = form
        if lemma is None:
            i += 1
            continue
        positive = not (head >= 1 and tokens[head - 1][0] in _NEGATING_ADVERB)
        if lemma in _ANTONYM:
            lemma, positive = _ANTONYM[lemma], not positive
        # What follows the head: auxiliaries that keep its claim (-어야 하다, -게 되다, -어 있다), then
        # -지 않다 or -ㄹ 수 없다 (cannot), each of which flips it once.
        j = i + 1
        while (
            j + 1 < len(tokens)
            and tokens[j][1] == "EC"
            and tokens[j][0] != "지"
            and tokens[j + 1][1] in ("VX", "VV")
        ):
            if tokens[j + 1][0] == "없":
                positive = not positive
            j += 2
        if j + 1 < len(tokens) and tokens[j] == ("지", "EC") and tokens[j + 1][0] in _NEGATING_AUX:
            positive = not positive
            j += 2
        elif (
            j + 2 < len(tokens)
            and tokens[j][1] == "ETM"
            and tokens[j + 1][0] == "수"
            and tokens[j + 2][0] in ("없", "있")
        ):
            # -ㄹ 수 없다 (cannot) flips it; -ㄹ 수 있다 (can) keeps it. Either way 있/없 is no predicate of its own.
            positive ^= tokens[j + 2][0] == "없"
            j += 3
        modifier = j < len(tokens) and tokens[j][1] == "ETM"
        out.append(Predicate(lemma, positive, sentence, modifier))
        i = j
    return tuple(out)


_NEG_RE = re.compile(r"([가-힣]+?)(?:하|되|받)?지\s*(?:않|아니|못)")
_POS_RE = re.compile(r"([가-힣]{2,}?)(?:합니다|한다|됩니다|된다|하며|하고|하여|해야|받습니다)")
_EXIST_RE = re.compile(r"(있|없)(?:습니다|다|는|으며|고|을|음)")
_SENTENCE_RE = re.compile(r"(?<=[다요])[.?!]\s*|\n")


class RegexReader:
    """A suffix-pattern reader: the baseline Kiwi is measured against (no analyser, no lemmas)."""

    name = "regex"

    def predicates(self, text: str) -> list[Predicate]:
        out: list[Predicate] = []
        for n, sentence in enumerate(_SENTENCE_RE.split(text)):
            negated = {m.start(1) for m in _NEG_RE.finditer(sentence)}
            for m in _NEG_RE.finditer(sentence):
                out.append(Predicate(m.group(1) + "하", False, n))
            for m in _POS_RE.finditer(sentence):
                if m.start(1) not in negated:
                    out.append(Predicate(m.group(1) + "하", True, n))
            for m in _EXIST_RE.finditer(sentence):
                out.append(Predicate("있", m.group(1) == "있", n))
        return out


def reader(name: str) -> PredicateReader:
    readers: dict[str, type[KiwiReader] | type[RegexReader]] = {"kiwi": KiwiReader, "regex": RegexReader}
    if name not in readers:
        raise ValueError(f"unknown morphology {name!r}: choose from {sorted(readers)}")
    return readers[name]()
