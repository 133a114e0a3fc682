"""Which items wait for a human and which the checks decide."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from domainlm.records import Sample, content_id


class ReviewPolicy(StrEnum):
    HUMAN = "human"  # every item waits for a reviewer
    AUTO = "auto"  # the checks decide
    SAMPLE = "sample"  # a share goes to reviewers, the rest is decided by the checks


class ReviewSettings(BaseModel):
    policy: ReviewPolicy = ReviewPolicy.AUTO
    sample_share: float = Field(0.1, ge=0.0, le=1.0, description="share sent to humans under `sample`")
    auto_min_support: float = Field(
        0.6, description="auto-approval needs at least this answer support score, else auto-rejects"
    )

    doubts_to_human: bool = Field(
        True, description="under auto and sample, an item the LLM judge doubts goes to a human"
    )

    def needs_human(self, sample: Sample) -> bool:
        if self.policy == ReviewPolicy.HUMAN:
            return True
        if self.doubts_to_human and sample.doubts:
            return True
        if self.policy == ReviewPolicy.AUTO:
            return False
        # Deterministic in the id, so a re-run routes every item the same way.
        bucket = int(content_id("review-sample", sample.id, length=8), 16) / 0xFFFFFFFF
        return bucket < self.sample_share

    def auto_verdict(self, sample: Sample) -> tuple[bool, str]:
        support = sample.scores.get("answer_support", 0.0)
        if support >= self.auto_min_support:
            return True, f"answer_support={support:.2f}"
        return False, f"answer_support={support:.2f} < {self.auto_min_support}"
