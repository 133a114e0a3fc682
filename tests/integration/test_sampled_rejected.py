"""Rejected answers sampled from a model served by the real vLLM server, plugged into the pairs stage."""

from __future__ import annotations

import pytest

from domainlm.funnel import Funnel
from domainlm.preference import DistractorSource, PairBuilder, PairSettings
from domainlm.preference.sampled import ModelSampleSource, SampledSettings
from domainlm.records import Provenance, ReviewState, Sample, SampleKind
from domainlm.teacher import TeacherSettings

pytestmark = pytest.mark.integration
PROV = Provenance(doc_id="d", source="a.pdf", pages=[1], section="제3조", chunk_id="c1")


def test_sampled_answers_become_rejected_answers(vllm_teacher: TeacherSettings) -> None:
    # The tiny model's weights are random: what it samples is nothing like the verified answers, so the
    # check keeps it as rejected; a verified answer repeated verbatim would not be.
    samples = [
        Sample(
            id=f"s{i}",
            kind=SampleKind.QA,
            instruction=f"보험금은 언제 지급합니까? ({i})",
            output=f"회사는 서류를 받은 날부터 {i + 3}영업일 이내에 보험금을 지급합니다.",
            provenance=PROV,
            review=ReviewState.APPROVED,
        )
        for i in range(6)
    ]
    source = ModelSampleSource(vllm_teacher, SampledSettings(samples_per_prompt=3, max_tokens=48))
    found = source.rejected_for(samples)
    assert set(found) == {s.id for s in samples}
    assert all(1 <= len(v) <= 3 and all(a.strip() for a in v) for v in found.values())
    assert source.worse_answers(samples[0].output, [samples[0].output, " "]) == []

    funnel = Funnel()
    builder = PairBuilder(PairSettings(sft_overlap=0.5), [DistractorSource(), source])
    pairs = list(builder.run(samples, funnel))
    assert {p.sample_id for p in pairs} == {s.id for s in samples}
    assert {p.rejected_source for p in pairs} == {"sft-sample"}
    assert all(p.rejected != p.chosen for p in pairs)
    # The SFT∩DPO overlap setting still decides which prompts stay out of the SFT export.
    assert {p.sample_id for p in pairs if not p.in_sft} == builder.dpo_only
    assert 0 < len(builder.dpo_only) < len(samples)
