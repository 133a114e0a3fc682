"""The structure-grounded generator on the project's sample policy text, and the chunker's document
parts: every item names its part and article, passes the same checks as a teacher's, and no question
is asked twice."""

from __future__ import annotations

import re

from corpus import SAMPLE_TEXT as TEXT
from corpus import text_pages as pages
from domainlm.chunking import ChunkSettings, StructureChunker
from domainlm.chunking.structure import book_title, level_of
from domainlm.funnel import Funnel
from domainlm.generation import SampleGenerator
from domainlm.generation.coverage import coverage, question_set_coverage
from domainlm.generation.structure import StructureItems
from domainlm.records import Chunk, Page
from domainlm.textsim import containment

BOOK = "도메인LM 예시 상해보험 보통약관"
RIDER = """
1) 가족 운전자한정 특별약관
제1조(보상내용) 회사는 운전할 자를 기명피보험자와 그 가족으로 한정하는 경우에는 이 특별약관이 정하는 바에 따라 보상합니다.
제2조(준용규정) 이 특별약관에서 정하지 않은 사항은 보통약관에 따릅니다.
2) 보험료 자동납입 특별약관
제1조(적용대상) 회사는 보험계약자가 보험료를 지정계좌에서 자동이체로 납입하기로 약정하는 경우에 이 특별약관을 적용합니다.
제2조(납입유예) 회사는 분할보험료가 약정이체일에 납입되지 않는 경우에는 약정이체일부터 30일의 납입유예기간을 둡니다.
"""
CONTENTS = "목 차\n1) 가족 운전자한정 특별약관\n2) 보험료 자동납입 특별약관\n"


def chunks(text: str = TEXT) -> list[Chunk]:
    return list(StructureChunker(ChunkSettings(max_tokens=256, min_tokens=0)).run(pages(text), Funnel()))


def generate(cs: list[Chunk]) -> tuple[list, Funnel]:
    items = StructureItems()
    items.prepare(cs)
    funnel = Funnel()
    return list(SampleGenerator(None, structure=items).run(cs, funnel)), funnel


def test_every_article_yields_checked_items_that_name_their_part_and_article() -> None:
    cs = chunks()
    samples, funnel = generate(cs)
    cov = coverage(cs, samples)
    assert cov["articles"] == 18 and cov["article_share"] >= 0.95, cov
    assert cov["duplicate_questions"] == 0
    # every item passed the checks every teacher's item passes (nothing rejected here, nothing bypassed)
    assert funnel.summary()["generate"]["out"] == len(samples) > 30
    kinds = {s.kind.value for s in samples}
    assert kinds == {"qa", "mcq"}
    for s in samples:
        assert s.instruction.startswith(f"{BOOK} 제"), s.instruction
        assert re.match(rf"{BOOK} 제\d+조\(", s.instruction)
        assert s.provenance.teacher_model == "structure" and s.provenance.prompt_version == "structure-v1"
        chunk = next(c for c in cs if c.id == s.provenance.chunk_id)
        assert containment(s.output, chunk.text) >= 0.9, (s.instruction, s.output)
    # quantities are asked back with a question word; the answer is the quantity with its bound
    asked = {s.instruction: s.output for s in samples}
    q = next(k for k in asked if "보험증권을 받은 날부터 며칠 이내에 그 청약을 철회할 수 있습니까?" in k)
    assert asked[q] == "15일 이내"
    # a definition from 용어의 정의, a full list from 지급사유
    assert any(
        "'피보험자'의 뜻" in k and v == "보험사고의 대상이 되는 사람을 말합니다." for k, v in asked.items()
    )
    listed = next(v for k, v in asked.items() if "제3조(보험금의 지급사유)" in k and "열거" in k)
    assert listed.count("\n") == 2 and "후유장해보험금" in listed


def test_distractors_are_true_sentences_of_other_articles() -> None:
    cs = chunks()
    samples, _ = generate(cs)
    whole = "\n".join(c.text for c in cs)
    mcq = [s for s in samples if s.kind.value == "mcq"]
    assert len(mcq) >= 10
    for s in mcq:
        assert s.choices and s.answer_index is not None and len(s.choices) == 4
        own = next(c for c in cs if c.id == s.provenance.chunk_id).text
        for i, choice in enumerate(s.choices):
            assert containment(choice, whole) > 0.95  # every choice is the document's own sentence
            if i != s.answer_index:
                assert containment(choice, own) < 0.6, (s.instruction, choice)  # and not this article's
    assert coverage(cs, samples)["mean_distractor_overlap"] < 0.2
    # the answer's place varies, so "always ①" cannot be learned
    assert len({s.answer_index for s in mcq}) >= 3


def test_riders_are_parts_of_their_own_and_a_contents_page_is_not() -> None:
    cs = chunks(TEXT + "\n" + CONTENTS + RIDER)
    sections = {c.section for c in cs}
    assert any(s.startswith("가족 운전자한정 특별약관 > 제1조(보상내용)") for s in sections), sections
    assert any(s.startswith("보험료 자동납입 특별약관 > 제1조(적용대상)") for s in sections), sections
    assert not any("목 차" in s for s in sections)
    samples, _ = generate(cs)
    firsts = {s.instruction for s in samples if "제1조(" in s.instruction and "특별약관" in s.instruction}
    assert any(q.startswith("가족 운전자한정 특별약관 제1조") for q in firsts)
    assert any(q.startswith("보험료 자동납입 특별약관 제1조") for q in firsts)
    assert any(
        s.output == "30일" or s.output.startswith("30일") for s in samples if "자동납입" in s.instruction
    )


def test_a_cited_article_is_not_a_heading_and_prose_is_not_a_part() -> None:
    assert level_of("제3조(의료기관)의 규정에 따른 종합병원과 병원에서") is None
    assert level_of("제3조(의료기관) 회사는") is not None
    assert book_title("1개월 이내에 이 특별약관") is None
    assert book_title("3) 가족 운전자한정 특별약관") == "가족 운전자한정 특별약관"


def test_a_text_with_no_policy_structure_yields_nothing_and_says_so() -> None:
    letter = (
        "안녕하세요.\n지난주 회의에서 논의한 일정을 정리해 보내드립니다.\n다음 회의는 3일 뒤에 열립니다.\n"
    )
    cs = list(StructureChunker(ChunkSettings(min_chars=10)).run([Page(source="l.pdf", doc_id="l", page=1, text=letter,
                                                                      method="text-layer")], Funnel()))  # fmt: skip
    samples, _ = generate(cs)
    assert samples == [] and coverage(cs, samples)["articles"] == 0


def test_question_set_coverage_counts_cited_articles() -> None:
    cs = chunks()
    samples, _ = generate(cs)
    questions = [
        {"question": "q", "answer": "… (제11조 ①항 참조)"},
        {"question": "q", "answer": "(제3조 2호, 제99조)"},
    ]
    got = question_set_coverage(questions, samples, "보통약관")
    assert got["articles_referenced"] == 3 and got["articles_with_items"] == 2 and got["missing"] == ["99"]


def test_beside_an_llm_teacher_both_sources_write_items_each_marked_with_its_source() -> None:
    from domainlm.fakes import ExtractiveTeacher

    cs = chunks()
    items = StructureItems()
    items.prepare(cs)
    samples = list(SampleGenerator(ExtractiveTeacher(), structure=items).run(cs, Funnel()))
    by_source = {s.provenance.teacher_model: s for s in samples}
    assert set(by_source) == {"structure", "fake-extractive"}
    assert by_source["structure"].provenance.prompt_version == "structure-v1"
    assert by_source["fake-extractive"].provenance.prompt_version.startswith("generate-v")
    assert len({s.id for s in samples}) == len(samples)  # the two sources' items never share an id
