"""Each LLM-free check on items written in the project's own 약관 wording: what it catches, what it keeps."""

from __future__ import annotations

import pytest

from domainlm.checks import AnswerChecks, CheckSettings
from domainlm.checks.articles import article_mismatch
from domainlm.checks.lists import dropped_items
from domainlm.checks.morphology import KiwiReader, RegexReader
from domainlm.checks.quantities import quantities, quantity_mismatch
from domainlm.checks.support import FaithfulnessCheck

SECTION = "제4조(보험금을 지급하지 않는 사유)"
CHUNK = (
    "제4조(보험금을 지급하지 않는 사유) ① 회사는 다음 중 어느 한 가지로 보험금 지급사유가 발생한 때에는 "
    "보험금을 지급하지 않습니다.\n1. 피보험자가 고의로 자신을 해친 경우\n2. 보험수익자가 고의로 피보험자를 "
    "해친 경우\n3. 계약자가 고의로 피보험자를 해친 경우\n② 회사는 계약일부터 30일 이내에 청약을 철회한 "
    "경우 이미 납입한 보험료를 3영업일 이내에 돌려 드립니다."
)
EVIDENCE = "회사는 다음 중 어느 한 가지로 보험금 지급사유가 발생한 때에는 보험금을 지급하지 않습니다. 1. 피보험자가 고의로 자신을 해친 경우"
QUESTION = "피보험자가 고의로 자신을 해친 경우 보험금을 받을 수 있나요?"


@pytest.fixture(scope="module")
def checks() -> AnswerChecks:
    return AnswerChecks()


def failed(verdict: object) -> dict[str, str]:
    return {c.name: c.detail for c in verdict.checks if not c.ok}  # type: ignore[attr-defined]


def test_the_negated_answer_of_the_issue_is_caught_where_the_lexical_check_passes_it(
    checks: AnswerChecks,
) -> None:
    answer = "네, 피보험자가 고의로 자신을 해친 경우에도 회사는 보험금을 지급합니다."
    assert FaithfulnessCheck().check_answer(QUESTION, answer, EVIDENCE, CHUNK).ok  # what the issue found
    verdict = checks.check_answer(QUESTION, answer, EVIDENCE, CHUNK, SECTION)
    assert not verdict.ok and verdict.reason == "polarity-flipped"
    assert "지급하지 않다" in failed(verdict)["polarity"]


@pytest.mark.parametrize(
    "answer",
    [
        "아니요, 피보험자가 고의로 자신을 해친 경우 회사는 보험금을 지급하지 않습니다.",
        "제4조에 따르면, 피보험자가 고의로 자신을 해친 경우에는 보험금을 지급하지 아니합니다.",
        "피보험자가 고의로 자신을 해친 경우 보험금을 지급하지 않습니다.",
    ],
)
def test_right_answers_pass_every_check_and_keep_every_verdict(checks: AnswerChecks, answer: str) -> None:
    verdict = checks.check_answer(QUESTION, answer, EVIDENCE, CHUNK, SECTION)
    assert verdict.ok, failed(verdict)
    assert [c.name for c in verdict.checks] == [
        "support",
        "polarity",
        "quantities",
        "articles",
        "list",
        "evidence",
    ]


def test_kiwi_reads_one_lemma_through_its_forms_where_the_regex_reader_does_not() -> None:
    kiwi = KiwiReader()
    for text, positive in [
        ("지급하여야 합니다", True),
        ("지급받을 수 없습니다", False),
        ("환급하지 아니합니다", False),
    ]:
        found = kiwi.predicates(text)
        assert found and found[0].positive is positive, (text, found)
    assert [p.lemma for p in kiwi.predicates("제외합니다")] == ["포함하"]  # 제외 is "not 포함"
    assert not any(p.lemma == "지급받" for p in RegexReader().predicates("지급받을 수 없습니다"))


def test_numbers_and_units_are_read_and_compared() -> None:
    assert quantities("10만원과 100,000원, 30일") == {(100000.0, "원"), (30.0, "일")}
    source = "계약일부터 30일 이내에 청약을 철회할 수 있습니다."
    assert quantity_mismatch("30일 이내에 철회할 수 있습니다.", source) is None
    assert (quantity_mismatch("15일 이내에 철회할 수 있습니다.", source) or "").startswith("number-mismatch")
    assert (quantity_mismatch("30개월 이내에 철회할 수 있습니다.", source) or "").startswith("unit-mismatch")


def test_a_swapped_number_is_caught_against_the_evidence_not_the_whole_chunk(checks: AnswerChecks) -> None:
    evidence = (
        "회사는 계약일부터 30일 이내에 청약을 철회한 경우 이미 납입한 보험료를 3영업일 이내에 돌려 드립니다."
    )
    q = "청약을 철회하면 보험료는 언제 돌려받나요?"
    good = checks.check_answer(
        q, "청약을 철회한 경우 회사는 보험료를 3영업일 이내에 돌려 드립니다.", evidence, CHUNK, SECTION
    )
    assert good.ok, failed(good)
    bad = checks.check_answer(
        q, "청약을 철회한 경우 회사는 보험료를 5영업일 이내에 돌려 드립니다.", evidence, CHUNK, SECTION
    )
    assert bad.reason == "number-mismatch"


def test_article_references_must_belong_to_the_chunk() -> None:
    assert article_mismatch("제4조에 따라 지급하지 않습니다.", SECTION, CHUNK) is None
    assert (article_mismatch("제9조에 따라 지급하지 않습니다.", SECTION, CHUNK) or "").startswith(
        "article-mismatch"
    )
    assert (article_mismatch("제9조", SECTION, CHUNK, {"4", "5"}) or "").startswith("article-not-in-document")


def test_an_article_the_document_lacks_is_told_from_one_that_is_elsewhere(checks: AnswerChecks) -> None:
    def reason(answer: str) -> str:
        return checks.check_answer(QUESTION, answer, EVIDENCE, CHUNK, SECTION, ["1", "4", "9"]).reason

    assert reason("제9조에 따라 보험금을 지급하지 않습니다.") == "article-mismatch"
    assert reason("제99조에 따라 보험금을 지급하지 않습니다.") == "article-not-in-document"
    mcq = checks.check_mcq(
        QUESTION,
        ["지급합니다.", "제77조에 따라 보험금을 지급하지 않습니다."],
        1,
        EVIDENCE,
        CHUNK,
        SECTION,
        ["4"],
    )
    assert mcq.reason == "article-not-in-document"


def test_a_list_answer_that_drops_an_item_is_caught_unless_it_says_it_gives_examples() -> None:
    full = "피보험자, 보험수익자, 계약자가 각각 고의로 해친 경우입니다: 피보험자가 고의로 자신을 해친 경우, 보험수익자가 고의로 피보험자를 해친 경우, 계약자가 고의로 피보험자를 해친 경우"
    assert dropped_items(full, CHUNK) is None
    two = "피보험자가 고의로 자신을 해친 경우와 보험수익자가 고의로 피보험자를 해친 경우입니다."
    assert "missing '계약자가" in (dropped_items(two, CHUNK) or "")
    assert dropped_items(two.replace("입니다", " 등입니다"), CHUNK) is None


def test_added_conditions_and_neighbouring_clauses_are_not_what_the_evidence_says(
    checks: AnswerChecks,
) -> None:
    # The evidence restated whole, plus a condition of its own (no number, so only the evidence check applies).
    added = (
        "회사는 다음 중 어느 한 가지로 보험금 지급사유가 발생한 때에는 보험금을 지급하지 않습니다. "
        "피보험자가 고의로 자신을 해친 경우로서 음주 상태였던 때에 한합니다."
    )
    verdict = checks.check_answer(QUESTION, added, EVIDENCE, CHUNK, SECTION)
    assert verdict.reason == "answer-adds-content" and list(failed(verdict)) == ["evidence"]
    short = "음주 상태였던 때에 한하여 피보험자가 고의로 자신을 해친 경우 보험금을 지급하지 않습니다."
    assert checks.check_answer(QUESTION, short, EVIDENCE, CHUNK, SECTION).reason == "answer-not-in-evidence"
    neighbour = (
        "회사는 계약일부터 30일 이내에 청약을 철회한 경우 이미 납입한 보험료를 3영업일 이내에 돌려 드립니다."
    )
    assert (
        checks.check_answer(QUESTION, neighbour, EVIDENCE, CHUNK, SECTION).reason == "answer-not-in-evidence"
    )


def test_a_true_distractor_makes_the_item_ambiguous(checks: AnswerChecks) -> None:
    q = "제4조에 관한 설명으로 옳은 것은?"
    right = "피보험자가 고의로 자신을 해친 경우 보험금을 지급하지 않습니다."
    false_ones = [
        "계약자가 고의로 피보험자를 해친 경우 보험금을 지급합니다.",
        "청약 철회 시 보험료를 돌려 드리지 않습니다.",
    ]
    ok = checks.check_mcq(q, [right, *false_ones, "30개월"], 0, EVIDENCE, CHUNK, SECTION)
    assert ok.ok, failed(ok)
    true_other = "보험수익자가 고의로 피보험자를 해친 경우 보험금을 지급하지 않습니다."
    bad = checks.check_mcq(q, [right, true_other, *false_ones], 0, EVIDENCE, CHUNK, SECTION)
    assert bad.reason == "distractor-entailed"


def test_checks_can_be_skipped_by_name(checks: AnswerChecks) -> None:
    answer = "네, 피보험자가 고의로 자신을 해친 경우에도 회사는 보험금을 지급합니다."
    lenient = AnswerChecks(CheckSettings(skip=["polarity"]))
    assert lenient.check_answer(QUESTION, answer, EVIDENCE, CHUNK, SECTION).ok
    with pytest.raises(ValueError, match="unknown morphology"):
        AnswerChecks(CheckSettings(morphology="nope"))


def test_audit_keeps_an_out_of_range_answer_index_failed_even_with_a_judge(checks: AnswerChecks) -> None:
    from domainlm.checks.audit import AuditItem, audit
    from domainlm.checks.judge import AnswerJudge
    from domainlm.fakes import ScriptedJudge

    rows = [
        AuditItem(id="bad", chunk=CHUNK, question="옳은 것은?", choices=["가", "나"], answer_index=5),
        AuditItem(
            id="ok",
            chunk=CHUNK,
            question=QUESTION,
            answer="피보험자가 고의로 자신을 해친 경우 보험금을 지급하지 않습니다.",
            evidence=EVIDENCE,
            section=SECTION,
        ),
    ]
    verdicts = list(audit(rows, checks, AnswerJudge(ScriptedJudge(set()))))
    assert [v.id for v in verdicts] == ["bad", "ok"]
    assert verdicts[0].failed == ["item"] and verdicts[0].reasons["item"] == "answer-index-out-of-range"
    assert verdicts[1].ok and "judge-entailed" in {c.name for c in verdicts[1].checks}


def test_the_judge_is_on_when_a_teacher_is_configured_and_off_with_the_embedded_one() -> None:
    from domainlm.checks.judge import JudgeSettings, judge_wanted
    from domainlm.teacher import TeacherSettings

    embedded, configured = TeacherSettings(), TeacherSettings(base_url="http://vllm:8000/v1", model="m")
    assert not judge_wanted(JudgeSettings(), embedded)
    assert judge_wanted(JudgeSettings(), configured)
    assert judge_wanted(JudgeSettings(base_url="http://judge/v1", model="j"), embedded)
    assert not judge_wanted(JudgeSettings(enabled=False), configured)
    assert judge_wanted(JudgeSettings(enabled=True), embedded)
