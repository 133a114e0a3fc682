"""WizardLM's elimination step: drop evolutions that failed, each with its reason."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from domainlm.textsim import jaccard, squash

# Refusals and non-answers, Korean and English; a teacher asked for something the chunk lacks says so.
_REFUSAL = re.compile(
    r"(죄송|답변(을|드리기|할 수)\s*(없|어렵)|알 수 없|확인할 수 없|제공(할 수|되지)\s*않|언급(되어 있지|이 없)|"
    r"발췌문에(는)?\s*(없|나와 있지)|I'?m sorry|cannot (answer|help)|as an AI|not (mentioned|provided))",
    re.IGNORECASE,
)
# Words that carry no content on their own: an answer made only of these says nothing.
_STOP = {
    "네",
    "예",
    "아니요",
    "아니오",
    "있습니다",
    "없습니다",
    "합니다",
    "그렇습니다",
    "입니다",
    "yes",
    "no",
    "the",
    "a",
}
_LEAK = re.compile(
    r"(#\s*(given|rewritten|created)\s*prompt#|\[발췌문\]|\[원래 (질문|답변)\]|과제\s*:|JSON으로)", re.I
)


class EliminationSettings(BaseModel):
    max_parent_similarity: float = Field(
        0.8, description="bigram Jaccard to the parent at or above = no gain"
    )
    min_answer_chars: int = Field(2, description="answers shorter than this after squashing are trivial")


def eliminate(
    instruction: str,
    output: str,
    parent_instruction: str,
    template_lines: list[str],
    settings: EliminationSettings | None = None,
) -> str | None:
    """The reason an evolved item must go, or None if it may stay.

    >>> eliminate("보험금 청구 서류는?", "죄송하지만 알 수 없습니다.", "보험금 청구는?", [])
    'refusal'
    """
    s = settings or EliminationSettings()
    if jaccard(instruction, parent_instruction) >= s.max_parent_similarity:
        return "no-information-gain"
    if _REFUSAL.search(output) or _REFUSAL.search(instruction):
        return "refusal"
    words = [w for w in re.split(r"\s+", re.sub(r"[^\w\s]", " ", output)) if w]
    if len(squash(output)) < s.min_answer_chars or all(w.casefold() in _STOP for w in words):
        return "trivial-answer"
    text = instruction + "\n" + output
    if _LEAK.search(text) or any(line in text for line in template_lines):
        return "template-leakage"
    return None
