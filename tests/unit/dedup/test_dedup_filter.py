"""The dedup stage over Samples and over plain JSONL rows: accounting, clusters, text fields."""

from __future__ import annotations

import pytest

from domainlm.dedup import (
    MinhashConfig,
    NearDuplicateFilter,
    NearDuplicateIndex,
    dedup_rows,
    row_text,
    sample_text,
)
from domainlm.funnel import Funnel
from domainlm.records import Provenance, Sample, SampleKind

PROV = Provenance(doc_id="d", source="p.pdf", pages=[1], section="제1조", chunk_id="c")
Q1 = "보험계약자가 계약 전 알릴 의무를 위반한 경우 회사는 어떻게 할 수 있습니까?"
A1 = "회사는 그 사실을 안 날부터 1개월 이내에 계약을 해지할 수 있습니다."
Q2 = "해외여행 중 휴대품을 도난당했을 때 보상받을 수 있는 한도는 얼마입니까?"
A2 = "보험증권에 적힌 보험가입금액을 한도로 하며 물품 1개당 20만원까지 보상합니다."


def sample(id: str, instruction: str, output: str, **kw: object) -> Sample:
    return Sample(id=id, kind=SampleKind.QA, instruction=instruction, output=output, provenance=PROV, **kw)  # type: ignore[arg-type]


def index() -> NearDuplicateIndex:
    return NearDuplicateIndex(MinhashConfig())


def test_filter_keeps_one_per_cluster_and_accounts_for_the_rest() -> None:
    rows = [
        sample("s1", Q1, A1),
        sample("s2", Q2, A2),
        sample("s3", Q1.replace("회사는", "회사가"), A1 + " "),
        sample("s4", "  " + Q1, A1.replace(".", "!")),
        sample("s2", Q2, A2),  # the same id again
    ]
    funnel = Funnel()
    stage = NearDuplicateFilter(index(), batch_size=2)
    stage.name = "dedup-evolved"
    kept = list(stage.run(rows, funnel))
    assert [s.id for s in kept] == ["s1", "s2"]
    assert funnel.stage_summary("dedup-evolved") == {
        "in": 5,
        "out": 2,
        "rejected": {"near-duplicate": 2, "repeated-id": 1},
    }
    assert [d["id"] for d in stage.clusters["s1"]] == ["s3", "s4"]
    assert all(0.5 <= d["similarity"] <= 1.0 for d in stage.clusters["s1"])
    assert stage.cluster_rows() == [{"kept": "s1", "duplicates": stage.clusters["s1"]}]


def test_rejections_name_the_kept_row(tmp_path) -> None:
    funnel = Funnel(report_dir=tmp_path)
    list(NearDuplicateFilter(index()).run([sample("s1", Q1, A1), sample("s3", Q1, A1 + "!")], funnel))
    funnel.close()
    report = (tmp_path / "dedup.jsonl").read_text()
    assert '"record_id":"s3"' in report and "duplicate of s1 (similarity 1.00)" in report


def test_sample_text_leaves_out_distractors() -> None:
    mcq = sample("m", "다음 중 맞는 것은?", "2번 보기", choices=["1번 보기", "2번 보기"], answer_index=1)
    assert sample_text(mcq) == "다음 중 맞는 것은?\n2번 보기"


def test_row_text_fields() -> None:
    assert row_text({"id": 1, "instruction": "Q", "output": "A"}) == "Q\nA"
    assert row_text({"id": 1, "instruction": "Q", "output": "A", "choices": None}) == "Q\nA"
    assert row_text({"id": 1, "text": "T", "prompt": "P"}) == "T"
    dpo = {"prompt": [{"role": "user", "content": "P"}], "chosen": [{"role": "assistant", "content": "C"}]}
    assert row_text(dpo) == "P\nC"
    assert (
        row_text({"messages": [{"role": "user", "content": "M1"}, {"role": "assistant", "content": "M2"}]})
        == "M1\nM2"
    )
    assert row_text({"id": 1, "q": "Q", "a": "A"}, ["a", "q"]) == "A\nQ"
    with pytest.raises(ValueError, match="no field q2"):
        row_text({"id": 1, "q": "Q"}, ["q2"])
    with pytest.raises(ValueError, match="name the fields"):
        row_text({"id": 1, "body": "B"})


def test_dedup_rows_passes_rows_unchanged_and_fills_clusters() -> None:
    rows = [
        {"id": "r1", "text": Q1 + A1, "extra": [1, 2]},
        {"id": "r2", "text": Q2 + A2},
        {"id": "r3", "text": Q1 + " " + A1},
    ]
    funnel, clusters = Funnel(), {}  # type: ignore[var-annotated]
    out = list(dedup_rows(rows, index(), None, funnel, clusters=clusters))
    assert out == rows[:2]
    assert clusters == {"r1": [{"id": "r3", "similarity": 1.0}]}
    assert funnel.stage_summary("dedup") == {"in": 3, "out": 2, "rejected": {"near-duplicate": 1}}
    by_field = list(
        dedup_rows([{"id": "x", "a": Q1}, {"id": "y", "a": Q1, "b": "diff"}], index(), ["a"], Funnel())
    )
    assert [r["id"] for r in by_field] == ["x"]
    with pytest.raises(ValueError, match="without an id"):
        list(dedup_rows([{"text": "t"}], index(), None, Funnel()))
