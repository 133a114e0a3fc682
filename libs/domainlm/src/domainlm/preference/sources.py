"""Where rejected answers come from. Pluggable: the trainer adds answers sampled from the SFT model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domainlm.records import Sample, SampleKind


class RejectedAnswerSource(Protocol):
    """Proposes worse answers for verified samples.

    Returns sample id → candidate rejected answers, best (most instructive) first. A source that has
    nothing for a sample leaves it out.
    """

    name: str

    def rejected_for(self, samples: Sequence[Sample]) -> dict[str, list[str]]: ...


class DistractorSource:
    """A multiple-choice item's distractors are plausible, verified-wrong answers to its question.

    The chosen answer is the correct choice written the same way, so the pair differs in content, not
    in style or length: DPO cannot win by learning a template.
    """

    name = "distractor"

    def rejected_for(self, samples: Sequence[Sample]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for s in samples:
            if s.kind == SampleKind.MCQ and s.choices and s.answer_index is not None:
                wrong = [
                    c
                    for i, c in enumerate(s.choices)
                    if i != s.answer_index and c.strip() != s.output.strip()
                ]
                if wrong:
                    out[s.id] = wrong
        return out
