"""Is the answer what its evidence says, not only words found somewhere in the chunk?

An answer taken from the neighbouring clause, or one that adds a condition the clause does not have,
is still made of the chunk's words; against the quoted evidence it shows as text the evidence lacks.
"""

from __future__ import annotations

import re

from domainlm.checks.polarity import strip_reply
from domainlm.textsim import char_ngrams, containment, squash

# "제3조에 따르면," and the like only say where the answer comes from.
_ATTRIBUTION = re.compile(r"^[^,.]{0,60}(?:에 따르면|에 의하면|에서는|에 따라)\s*,?\s*")


def answer_core(answer: str) -> str:
    return _ATTRIBUTION.sub("", strip_reply(answer), count=1)


def novel_text(answer: str, known: str) -> list[str]:
    """The stretches of the answer (squashed) made of bigrams that `known` lacks, longest first."""
    text, have = squash(answer), char_ngrams(known)
    runs: list[str] = []
    start = None
    for i in range(len(text) - 1):
        if text[i : i + 2] in have:
            if start is not None:
                runs.append(text[start : i + 1])
            start = None
        elif start is None:
            start = i
    if start is not None:
        runs.append(text[start:])
    return sorted(runs, key=len, reverse=True)


def beyond_evidence(
    question: str, answer: str, evidence: str, section: str, min_support: float, max_novel: int
) -> str | None:
    """Why the answer says more than (or other than) its evidence, or None.

    `max_novel` bounds the answer's bigrams found in neither the evidence, the question nor the article
    title: a few are rewording (회사 for 보험회사, 때 for 경우), a condition of its own is more.
    """
    known = " ".join((evidence, question, section))
    core = answer_core(answer)
    support = containment(core, known)
    if support < min_support:
        return f"answer-not-in-evidence: {support:.2f} of the answer's bigrams are in its evidence"
    novel = novel_text(core, known)
    if sum(len(run) - 1 for run in novel) > max_novel:
        return f"answer-adds-content: {novel[0]!r} is not in its evidence"
    return None
