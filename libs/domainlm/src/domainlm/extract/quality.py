"""How wrong an extracted text is: character error rate against a known reference."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFC, with every whitespace character removed.

    All whitespace goes, not just runs of it: tesseract's word spacing in Korean varies with the font
    and the scan (it splits and joins 어절 freely), and line breaks depend on the page width, so spacing
    says nothing about whether the characters were read correctly. NFC makes decomposed jamo from
    some PDF text layers compare equal to precomposed syllables.
    """
    return _WHITESPACE.sub("", unicodedata.normalize("NFC", text))


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance between the normalised texts over the normalised reference's length.

    Insertions count, so the rate can exceed 1.0 for a hypothesis full of noise. An empty reference
    gives 0.0 against an empty hypothesis and 1.0 against anything else.

    >>> character_error_rate("제1조 (목적)", "제1조(목적)")
    0.0
    >>> round(character_error_rate("보험금", "보험긍"), 3)
    0.333
    """
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(ref, hyp) / len(ref)
