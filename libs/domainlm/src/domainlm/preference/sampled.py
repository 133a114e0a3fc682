"""Rejected answers sampled from the SFT model: what the model itself gets wrong is what DPO should fix.

For each verified sample, the SFT model (served by vLLM, OpenAI-compatible) answers the question a few
times at a sampling temperature. An answer is kept as rejected only when a check finds it worse than the
verified one: it shares little with it (character-bigram Jaccard below `max_similarity`, on the one
normalisation the other checks use). An answer close to the verified one is not a useful negative, and
training against it would punish a correct answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from domainlm.asyncbridge import map_concurrently
from domainlm.records import Sample, SampleKind
from domainlm.teacher import TeacherClient, TeacherError, TeacherSettings
from domainlm.textsim import jaccard, squash


class SampledSettings(BaseModel):
    samples_per_prompt: int = Field(4, ge=1, le=16, description="answers sampled per question")
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    max_tokens: int = Field(256, ge=8)
    max_similarity: float = Field(
        0.5, ge=0.0, le=1.0, description="a sampled answer this close to the verified one is not rejected"
    )


class ModelSampleSource:
    """A RejectedAnswerSource: answers sampled from the SFT model that a check finds worse.

    A failed request leaves its sample without sampled negatives (counted in `failed`, with the reason);
    the other sources and samples go on.
    """

    name = "sft-sample"

    def __init__(self, model: TeacherSettings, settings: SampledSettings | None = None) -> None:
        self.client = TeacherClient(model)
        self.settings = settings or SampledSettings()
        self.failed: dict[str, str] = {}  # sample id -> reason

    def rejected_for(self, samples: Sequence[Sample]) -> dict[str, list[str]]:
        wanted = [s for s in samples if s.kind != SampleKind.MCQ or not s.choices]  # MCQ have distractors
        s = self.settings

        async def answers(sample: Sample) -> tuple[Sample, list[str]]:
            messages = [{"role": "user", "content": sample.instruction}]
            try:
                return sample, await self.client.complete_texts(
                    messages, s.samples_per_prompt, s.temperature, s.max_tokens
                )
            except TeacherError as e:
                self.failed[sample.id] = e.reason
                return sample, []

        out: dict[str, list[str]] = {}
        for sample, texts in map_concurrently(answers, wanted, self.client.settings.concurrency):
            if worse := self.worse_answers(sample.output, texts):
                out[sample.id] = worse
        return out

    def worse_answers(self, verified: str, sampled: Sequence[str]) -> list[str]:
        """Distinct sampled answers the check finds worse, least similar (most instructive) first."""
        seen: set[str] = set()
        scored = []
        for text in sampled:
            key = squash(text)
            if not key or key in seen:
                continue
            seen.add(key)
            similarity = jaccard(text, verified)
            if similarity < self.settings.max_similarity:
                scored.append((similarity, text.strip()))
        return [text for _, text in sorted(scored)]
