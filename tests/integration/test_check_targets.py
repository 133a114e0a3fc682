"""The LLM-free checks against a labelled set of right and wrong answers built from real policies,
and the judge's path from the generator to the review route and `domainlm check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus import SAMPLE_POLICY, corpus_pdf
from domainlm.checks import AnswerChecks, CheckSettings
from domainlm.checks.judge import AnswerJudge
from domainlm.checks.labelled import FAMILIES, LabelledItem, build, rejection_rates
from domainlm.checks.support import FaithfulnessCheck
from domainlm.chunking import StructureChunker
from domainlm.cli import app
from domainlm.extract import PdfExtractor
from domainlm.fakes import ExtractiveTeacher, ScriptedJudge
from domainlm.funnel import Funnel
from domainlm.generation import SampleGenerator
from domainlm.jsonl import read_rows, write_rows
from domainlm.records import Chunk
from domainlm.review import ReviewSettings


def chunks_of(*pdfs: Path) -> list[Chunk]:
    funnel = Funnel()
    return list(StructureChunker().run(PdfExtractor().run([str(p) for p in pdfs], funnel), funnel))


@pytest.fixture(scope="module")
def labelled() -> list[LabelledItem]:
    # Four documents of different makers and layouts: auto, travel, pet terms, and the project's own.
    pdfs = [SAMPLE_POLICY, corpus_pdf("01"), corpus_pdf("10"), corpus_pdf("13")]
    return build(chunks_of(*pdfs), seed=3)


def test_the_labelled_set_has_every_family_and_enough_of_each(labelled: list[LabelledItem]) -> None:
    counts = {f: sum(it.family == f for it in labelled) for f in ("correct", *FAMILIES)}
    assert counts["correct"] > 1000, counts
    assert all(n >= 20 for n in counts.values()), counts


def test_llm_free_checks_meet_the_targets_where_the_lexical_check_does_not(
    labelled: list[LabelledItem],
) -> None:
    rates = rejection_rates(AnswerChecks(), labelled)
    lexical = rejection_rates(FaithfulnessCheck(), labelled)
    for family in FAMILIES:
        assert rates[family][1] >= 0.90, (family, rates[family])
    assert rates["correct"][1] <= 0.03, rates["correct"]
    # The lexical check alone lets most of these through (it was built to catch invented text).
    assert max(lexical[f][1] for f in ("negation", "number", "unit", "article", "neighbour-clause")) < 0.1


def test_kiwi_morphology_measurably_helps_the_polarity_check(labelled: list[LabelledItem]) -> None:
    subset = [it for it in labelled if it.family in ("correct", "negation")]
    kiwi = rejection_rates(AnswerChecks(), subset)
    regex = rejection_rates(AnswerChecks(CheckSettings(morphology="regex")), subset)
    assert kiwi["negation"][1] > regex["negation"][1] + 0.1
    assert kiwi["correct"][1] <= regex["correct"][1]


def test_the_judge_runs_inside_generation_and_its_doubts_route_items_to_humans() -> None:
    chunks = chunks_of(SAMPLE_POLICY)[:4]
    teacher = ExtractiveTeacher()
    plain = [s for r in SampleGenerator(teacher).results(chunks) for s in r.samples]
    assert plain and all(not s.doubts for s in plain)
    doubted = {(plain[0].instruction, plain[0].output)}
    judge = AnswerJudge(ScriptedJudge(doubted))
    judged = [s for r in SampleGenerator(teacher, judge=judge).results(chunks) for s in r.samples]
    assert sorted(s.id for s in judged) == sorted(s.id for s in plain)  # the judge rejects nothing
    for s in judged:
        names = {c.name for c in s.checks}
        assert {"support", "polarity", "judge-entailed", "judge-standalone", "judge-relevant"} <= names
        assert s.scores["judge_prompt_tokens"] == 200 and s.evidence
    flagged = [s for s in judged if s.doubts]
    assert [(s.instruction, s.output) for s in flagged] == list(doubted)
    auto = ReviewSettings(policy="auto")
    assert auto.needs_human(flagged[0]) and not any(auto.needs_human(s) for s in judged if not s.doubts)
    assert not ReviewSettings(policy="auto", doubts_to_human=False).needs_human(flagged[0])


def test_check_command_audits_a_dataset_and_keeps_ids(labelled: list[LabelledItem], tmp_path: Path) -> None:
    picked = [it for it in labelled if it.kind == "qa"][:40]
    rows = [{"id": f"r{n}", **it.row()} for n, it in enumerate(picked)]
    rows.append({"id": "broken", "question": "청크가 없는 행"})
    write_rows(tmp_path / "items.jsonl", rows)
    result = CliRunner().invoke(
        app, ["check", "-i", str(tmp_path / "items.jsonl"), "-o", str(tmp_path / "v.jsonl")]
    )
    assert result.exit_code == 0, result.output
    verdicts = list(read_rows(tmp_path / "v.jsonl"))
    assert [v["id"] for v in verdicts] == [f"r{n}" for n in range(len(picked))]
    checker = AnswerChecks()
    for v, it in zip(verdicts, picked, strict=True):
        assert v["ok"] == checker.check_answer(it.question, it.answer, it.evidence, it.chunk, it.section).ok
        assert set(v["reasons"]) == set(v["failed"])
    assert any(not v["ok"] for v in verdicts) and any(v["ok"] for v in verdicts)
    rejected = [
        json.loads(line) for line in (tmp_path / "rejections" / "check.jsonl").read_text().splitlines()
    ]
    assert [(r["record_id"], r["reason"]) for r in rejected] == [("broken", "invalid-row")]
