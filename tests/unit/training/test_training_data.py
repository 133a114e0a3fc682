"""The factory's exports as TRL datasets: conversational columns kept, bad rows counted with reasons."""

from __future__ import annotations

from typing import Any

from domainlm.export import dpo_rows, sft_rows
from domainlm.records import PreferencePair, Provenance, Sample, SampleKind
from domainlm.training.data import prepare_dpo, prepare_sft

PROV = Provenance(
    doc_id="d",
    source="s.pdf",
    pages=[1],
    section="제1조",
    chunk_id="c",
    teacher_model="t",
    prompt_version="v1",
)


def _sample(i: int) -> Sample:
    return Sample(
        id=f"s{i}", kind=SampleKind.QA, instruction=f"질문 {i}?", output=f"답변 {i}.", provenance=PROV
    )


def test_sft_export_rows_keep_only_messages() -> None:
    rows = list(sft_rows([_sample(1), _sample(2)], system_prompt="약관 도우미"))
    prepared = prepare_sft(rows)
    assert not prepared.rejected
    assert [set(r) for r in prepared.rows] == [{"messages"}, {"messages"}]
    assert [m["role"] for m in prepared.rows[0]["messages"]] == ["system", "user", "assistant"]
    assert prepared.rows[1]["messages"][-1] == {"role": "assistant", "content": "답변 2."}
    ds = prepared.dataset()
    assert ds.column_names == ["messages"] and len(ds) == 2


def test_sft_bad_rows_counted_with_reasons() -> None:
    rows: list[dict[str, Any]] = [
        {"messages": "not a list"},
        {"messages": [{"role": "user", "content": "질문?"}]},
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "q2"},
            ]
        },
        {"messages": [{"role": "narrator", "content": "q"}, {"role": "assistant", "content": "a"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "extra": 1}]},
    ]
    prepared = prepare_sft(rows)
    assert prepared.rejected == {"bad-messages": 2, "no-assistant-turn": 1, "ends-without-assistant": 1}
    assert prepared.rows == [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    ]


def test_dpo_export_rows_are_conversational_triples() -> None:
    pair = PreferencePair(
        id="p1", sample_id="s1", prompt="보험금은 언제 지급하나요?", chosen="3영업일 이내", rejected="30일 이내",
        rejected_source="mcq-distractor", in_sft=True, provenance=PROV,
    )  # fmt: skip
    prepared = prepare_dpo(dpo_rows([pair]))
    assert not prepared.rejected
    (row,) = prepared.rows
    assert set(row) == {"prompt", "chosen", "rejected"}
    assert row["prompt"][-1]["role"] == "user" and row["chosen"][0]["content"] == "3영업일 이내"


def test_dpo_bad_rows_counted() -> None:
    user = [{"role": "user", "content": "q"}]
    a = [{"role": "assistant", "content": "a"}]
    rows: list[dict[str, Any]] = [
        {"prompt": user, "chosen": a, "rejected": a},
        {"prompt": user, "chosen": a, "rejected": [{"role": "user", "content": "b"}]},
        {"prompt": a, "chosen": a, "rejected": [{"role": "assistant", "content": "b"}]},
        {"prompt": "q", "chosen": "a", "rejected": "b"},
    ]
    assert prepare_dpo(rows).rejected == {
        "chosen-equals-rejected": 1,
        "completion-not-assistant": 1,
        "prompt-ends-without-user": 1,
        "bad-messages": 1,
    }
