"""Pairs verified answers (chosen) with worse ones (rejected) and decides the SFT∩DPO prompt overlap."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from pydantic import BaseModel, Field

from domainlm.funnel import Funnel
from domainlm.preference.sources import DistractorSource, RejectedAnswerSource
from domainlm.records import PreferencePair, Sample, content_id


class PairSettings(BaseModel):
    sft_overlap: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="share of DPO prompts that also appear in the SFT data; the rest are held out of SFT "
        "(partial overlap plus new prompts is what works best)",
    )
    pairs_per_prompt: int = Field(1, ge=1, le=8)
    seed: str = Field("pairs-v1", description="changes which prompts overlap, deterministically")


def _bucket(seed: str, sample_id: str) -> float:
    return int(content_id(seed, sample_id, length=8), 16) / 0xFFFFFFFF


class PairBuilder:
    """Stage: verified samples in, preference pairs out.

    After a run, `dpo_only` holds the ids of samples whose prompts must be kept out of the SFT export.
    """

    name = "pairs"

    def __init__(
        self, settings: PairSettings | None = None, sources: Sequence[RejectedAnswerSource] = ()
    ) -> None:
        self.settings = settings or PairSettings()
        self.sources: list[RejectedAnswerSource] = list(sources) or [DistractorSource()]
        self.dpo_only: set[str] = set()

    def run(self, records: Iterable[Sample], funnel: Funnel) -> Iterator[PreferencePair]:
        samples = [s for s in records if s.is_verified]
        candidates: dict[str, list[tuple[str, str]]] = {}
        for source in self.sources:
            for sample_id, answers in source.rejected_for(samples).items():
                candidates.setdefault(sample_id, []).extend((a, source.name) for a in answers)
        s = self.settings
        for sample in samples:
            funnel.saw(self.name)
            options = [
                (a, src) for a, src in candidates.get(sample.id, []) if a.strip() != sample.output.strip()
            ]
            if not options:
                funnel.reject(self.name, "no-rejected-answer", sample.id, f"kind={sample.kind}")
                continue
            in_sft = _bucket(s.seed, sample.id) < s.sft_overlap
            if not in_sft:
                self.dpo_only.add(sample.id)
            # Rotate the start so different prompts use different distractor positions.
            start = int(content_id(s.seed, "rot", sample.id, length=4), 16) % len(options)
            for k in range(min(s.pairs_per_prompt, len(options))):
                rejected, source_name = options[(start + k) % len(options)]
                funnel.passed_on(self.name)
                yield PreferencePair(
                    id=content_id(sample.id, rejected),
                    sample_id=sample.id,
                    prompt=sample.instruction,
                    chosen=sample.output,
                    rejected=rejected,
                    rejected_source=source_name,
                    in_sft=in_sft,
                    provenance=sample.provenance,
                )
