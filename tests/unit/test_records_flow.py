"""Logic of the stages between generation and export: faithfulness, review, elimination, pairs, export."""

from __future__ import annotations

from domainlm.evolution import eliminate
from domainlm.export import export_datasets
from domainlm.funnel import Funnel
from domainlm.generation import FaithfulnessCheck
from domainlm.jsonl import read_rows
from domainlm.ledger import Ledger
from domainlm.preference import PairBuilder, PairSettings
from domainlm.records import Provenance, ReviewState, Sample, SampleKind
from domainlm.review import Decision, ReviewGate, ReviewPolicy, ReviewSettings, ReviewStore

CHUNK = (
    "제11조(청약의 철회) ① 계약자는 보험증권을 받은 날부터 15일 이내에 그 청약을 철회할 수 있습니다. "
    "② 회사는 청약의 철회를 접수한 날부터 3일 이내에 납입한 보험료를 돌려 드립니다."
)


def sample(i: int, kind: SampleKind = SampleKind.QA, support: float = 0.9) -> Sample:
    prov = Provenance(doc_id="d", source="a.pdf", pages=[3], section="제11조(청약의 철회)", chunk_id="c1")
    if kind == SampleKind.MCQ:
        choices = ["15일", "30일", "3일", "1년"]
        return Sample(id=f"m{i}", kind=kind, instruction=f"철회 기간은?{i}", output="15일", choices=choices,
                      answer_index=0, provenance=prov, scores={"answer_support": support})  # fmt: skip
    return Sample(id=f"q{i}", kind=kind, instruction=f"청약 철회 기간은?{i}", output="보험증권을 받은 날부터 15일 이내입니다.",
                  provenance=prov, scores={"answer_support": support})  # fmt: skip


def test_faithfulness_accepts_supported_and_rejects_invented_answers() -> None:
    check = FaithfulnessCheck()
    ok = check.check_answer(
        "철회 기간은?",
        "보험증권을 받은 날부터 15일 이내에 철회할 수 있습니다.",
        "보험증권을 받은 날부터 15일 이내에 그 청약을 철회할 수 있습니다.",
        CHUNK,
    )
    assert ok.ok, ok
    invented = check.check_answer(
        "철회 기간은?",
        "가입 후 90일 동안 언제든지 해지 수수료 없이 환불됩니다.",
        "보험증권을 받은 날부터 15일 이내",
        CHUNK,
    )
    assert not invented.ok and invented.reason == "answer-unsupported"
    fake_evidence = check.check_answer(
        "철회 기간은?", "15일 이내", "전혀 다른 근거 문장이 여기에 있습니다", CHUNK
    )
    assert fake_evidence.reason == "evidence-not-in-chunk"
    mcq = check.check_mcq(
        "철회 기간은?",
        ["15일 이내", "회사는 청약의 철회를 접수한 날부터 3일 이내에 납입한 보험료를 돌려 드립니다."],
        0,
        "15일 이내에 그 청약을 철회할 수 있습니다",
        CHUNK,
    )
    assert mcq.reason == "distractor-stated-in-chunk"


def test_elimination_reasons() -> None:
    assert eliminate("청약 철회 기간은?", "15일입니다.", "청약 철회 기간은?", []) == "no-information-gain"
    assert (
        eliminate("철회 후 환급 절차를 단계별로 설명하면?", "죄송하지만 알 수 없습니다.", "철회 기간은?", [])
        == "refusal"
    )
    assert eliminate("철회 후 환급 절차를 단계별로 설명하면?", "네.", "철회 기간은?", []) == "trivial-answer"
    assert (
        eliminate("[발췌문] 철회 후 환급 절차는?", "3일 이내에 돌려줍니다.", "철회 기간은?", [])
        == "template-leakage"
    )
    assert (
        eliminate(
            "철회하면 보험료는 언제 돌려받습니까?", "철회 접수일부터 3일 이내입니다.", "철회 기간은?", []
        )
        is None
    )


def test_review_store_policies_and_decisions(tmp_path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    gate = ReviewGate(store, ReviewSettings(policy=ReviewPolicy.HUMAN))
    funnel = Funnel()
    assert list(gate.run([sample(1), sample(2)], funnel)) == []
    assert funnel.reasons["review"]["awaiting-review"] == 2
    store.decide(Decision(id="q1", action="edit", reviewer="kim", output="15일 이내에 철회할 수 있습니다."))
    store.decide(Decision(id="q2", action="reject", reviewer="lee", note="모호함"))
    # A re-run with the auto policy must not override the humans.
    again = list(
        ReviewGate(store, ReviewSettings(policy=ReviewPolicy.AUTO)).run([sample(1), sample(2)], Funnel())
    )
    assert [(s.id, s.review, s.output) for s in again] == [
        ("q1", ReviewState.EDITED, "15일 이내에 철회할 수 있습니다.")
    ]
    assert [h["action"] for h in store.history("q1")] == ["edit"]
    # Auto policy decides by the checks' scores.
    auto = list(
        ReviewGate(store, ReviewSettings()).run([sample(3, support=0.9), sample(4, support=0.1)], Funnel())
    )
    assert {s.id for s in auto} == {"q1", "q3"}


def test_sample_policy_routes_a_share_deterministically() -> None:
    settings = ReviewSettings(policy=ReviewPolicy.SAMPLE, sample_share=0.3)
    items = [sample(i) for i in range(400)]
    routed = [settings.needs_human(s) for s in items]
    assert 0.2 < sum(routed) / len(routed) < 0.4
    assert routed == [settings.needs_human(s) for s in items]


def test_pairs_use_distractors_and_respect_overlap(tmp_path) -> None:
    samples = [sample(i, SampleKind.MCQ) for i in range(200)] + [sample(0)]
    for s in samples:
        s.review = ReviewState.APPROVED
    funnel = Funnel()
    builder = PairBuilder(PairSettings(sft_overlap=0.25))
    pairs = list(builder.run(samples, funnel))
    assert len(pairs) == 200 and funnel.reasons["pairs"]["no-rejected-answer"] == 1  # the QA item
    assert all(p.chosen == "15일" and p.rejected in {"30일", "3일", "1년"} for p in pairs)
    in_sft = sum(p.in_sft for p in pairs) / len(pairs)
    assert 0.15 < in_sft < 0.35
    counts = export_datasets(samples, pairs, tmp_path, dpo_only=builder.dpo_only)
    assert counts == {"sft": 201 - len(builder.dpo_only), "dpo": 200}


def test_exports_load_with_datasets_in_trl_shape(tmp_path) -> None:
    import datasets

    s = [sample(1), sample(2, SampleKind.MCQ)]
    for x in s:
        x.review = ReviewState.APPROVED
    pairs = list(PairBuilder().run(s, Funnel()))
    export_datasets(s, pairs, tmp_path, system_prompt="당신은 보험약관 상담원입니다.")
    sft = datasets.load_dataset("json", data_files=str(tmp_path / "sft.jsonl"), split="train")
    dpo = datasets.load_dataset("json", data_files=str(tmp_path / "dpo.jsonl"), split="train")
    assert [m["role"] for m in sft[0]["messages"]] == ["system", "user", "assistant"]
    assert "① 15일" in sft[1]["messages"][2]["content"] and "② 30일" in sft[1]["messages"][1]["content"]
    assert sft[0]["provenance"]["pages"] == [3] and sft[0]["provenance"]["section"] == "제11조(청약의 철회)"
    assert dpo[0]["chosen"][0]["role"] == "assistant" and dpo[0]["prompt"][-1]["role"] == "user"


def test_ledger_survives_a_torn_last_line(tmp_path) -> None:
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path)
    ledger.put("a", {"x": 1})
    ledger.close()
    with path.open("a") as f:
        f.write('{"key": "b", "val')  # a crash mid-write
    again = Ledger(path)
    assert again.get("a") == {"x": 1} and "b" not in again
    again.put("b", {"x": 2})
    again.close()
    assert list(read_rows(path))[-1]["key"] == "b"


def test_funnel_writes_every_rejection(tmp_path) -> None:
    funnel = Funnel(report_dir=tmp_path)
    funnel.saw("s", 3)
    funnel.passed_on("s", 1)
    funnel.reject("s", "bad", "r1", "why")
    funnel.reject("s", "worse", "r2")
    funnel.close()
    rows = list(read_rows(tmp_path / "s.jsonl"))
    assert [r["reason"] for r in rows] == ["bad", "worse"]
    assert funnel.stage_summary("s") == {"in": 3, "out": 1, "rejected": {"bad": 1, "worse": 1}}
