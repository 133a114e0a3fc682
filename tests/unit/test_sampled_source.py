"""Sampled rejected answers: the worse-than-verified check, and a dead model server costs no samples."""

from __future__ import annotations

from domainlm.childproc import free_port
from domainlm.preference.sampled import ModelSampleSource, SampledSettings
from domainlm.records import Provenance, Sample, SampleKind
from domainlm.teacher import TeacherSettings

VERIFIED = "회사는 서류를 받은 날부터 3영업일 이내에 보험금을 지급합니다."


def source(**knobs: float) -> ModelSampleSource:
    dead = TeacherSettings(
        base_url=f"http://127.0.0.1:{free_port()}/v1", model="sft", max_retries=0, timeout_s=2
    )
    return ModelSampleSource(dead, SampledSettings(**knobs))


def test_only_answers_unlike_the_verified_one_are_rejected_least_similar_first() -> None:
    near = VERIFIED.replace("3영업일", "4영업일")
    far, farther = "보험금은 지급하지 않습니다. 회사는 책임이 없습니다.", "모릅니다."
    got = source(max_similarity=0.5).worse_answers(VERIFIED, [VERIFIED, near, far, " ", far + " ", farther])
    assert got == [farther, far]  # the copy, the near paraphrase, blanks and repeats are not negatives


def test_an_unreachable_model_leaves_samples_without_negatives_and_says_why() -> None:
    prov = Provenance(doc_id="d", source="a.pdf", pages=[1], section="제3조", chunk_id="c1")
    sample = Sample(
        id="s1", kind=SampleKind.QA, instruction="언제 지급합니까?", output=VERIFIED, provenance=prov
    )
    src = source()
    assert src.rejected_for([sample]) == {}
    assert src.failed == {"s1": "teacher-unreachable"}
