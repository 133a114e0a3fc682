"""Generation against the real vLLM server: structured output, accounting, bad output, dead teacher."""

from __future__ import annotations

import subprocess

import pytest

from corpus import ROOT, SAMPLE_POLICY
from domainlm.childproc import free_port
from domainlm.chunking import StructureChunker
from domainlm.funnel import Funnel
from domainlm.generation import GenerateSettings, SampleGenerator
from domainlm.jsonl import read_rows
from domainlm.records import Chunk, Page
from domainlm.teacher import TeacherClient, TeacherSettings, TeacherUnavailable

pytestmark = pytest.mark.integration

# Everything the generate stage may say about an item or a chunk; anything else is a bug.
KNOWN_REASONS = {
    "truncated-output", "malformed-output", "invalid-item", "answer-repeats-question", "evidence-not-in-chunk",
    "answer-unsupported", "answer-index-out-of-range", "distractor-stated-in-chunk",
}  # fmt: skip


@pytest.fixture(scope="module")
def chunks(sample_pages: list[Page]) -> list[Chunk]:
    return list(StructureChunker().run(sample_pages, Funnel()))[:6]


def test_every_chunk_and_item_is_accounted_for(
    vllm_teacher: TeacherSettings, chunks: list[Chunk], tmp_path
) -> None:
    funnel = Funnel(report_dir=tmp_path)
    generator = SampleGenerator(
        TeacherClient(vllm_teacher), GenerateSettings(qa_per_chunk=2, mcq_per_chunk=1)
    )
    samples = list(generator.run(chunks, funnel))
    funnel.close()
    summary = funnel.stage_summary("generate")
    assert summary["in"] == len(chunks)
    assert set(summary["rejected"]) <= KNOWN_REASONS, summary
    rows = list(read_rows(tmp_path / "generate.jsonl"))
    assert len(rows) == sum(summary["rejected"].values()) and all(r["reason"] for r in rows)
    # Structured outputs: the server's JSON always parses (truncation aside, which is reported).
    assert summary["rejected"].get("malformed-output", 0) == 0
    # Each chunk either failed as a whole (one record) or yielded its 2 to 3 items (schema: 1-2 QA, 1 MCQ).
    per_chunk = {c.id: 0 for c in chunks}
    for r in rows:
        per_chunk[r["record_id"].split(":")[0]] += 1
    for s in samples:
        per_chunk[s.provenance.chunk_id] += 1
    assert all(1 <= n <= 3 for n in per_chunk.values()), per_chunk


def test_truncated_output_is_reported_and_the_batch_goes_on(
    vllm_teacher: TeacherSettings, chunks: list[Chunk]
) -> None:
    funnel = Funnel()
    short = vllm_teacher.model_copy(update={"max_tokens": 12})
    samples = list(SampleGenerator(TeacherClient(short)).run(chunks, funnel))
    assert samples == []
    assert funnel.stage_summary("generate") == {
        "in": len(chunks),
        "out": 0,
        "rejected": {"truncated-output": len(chunks)},
    }


def test_unreachable_teacher_fails_fast_with_a_reason(chunks: list[Chunk]) -> None:
    dead = TeacherSettings(
        base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", max_retries=0, timeout_s=5
    )
    with pytest.raises(TeacherUnavailable) as e:
        TeacherClient(dead).check_reachable()
    assert e.value.reason == "teacher-unreachable"
    # Mid-run outage: every chunk is recorded as transient, to be retried by the next run.
    results = list(SampleGenerator(TeacherClient(dead)).results(chunks))
    assert all(r.transient and r.rejections[0][0] == "teacher-unreachable" for r in results)
    assert len(results) == len(chunks)


def test_wrong_model_name_is_reported(vllm_teacher: TeacherSettings) -> None:
    with pytest.raises(TeacherUnavailable) as e:
        TeacherClient(vllm_teacher.model_copy(update={"model": "no-such-model"})).check_reachable()
    assert e.value.reason == "teacher-model-missing" and "tiny-teacher" in e.value.detail


def test_cli_run_with_a_dead_teacher_exits_with_a_clear_message(tmp_path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "domainlm"), "run", "--input", str(SAMPLE_POLICY), "--output", str(tmp_path / "run"),
         "--until", "export", "--teacher-url", url, "--teacher-model", "m"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr[-2000:]  # incomplete: the same command resumes
    assert "teacher-unreachable" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("incomplete:") and "resumes" in proc.stderr
    # Work done before the teacher was needed is kept for the next run.
    assert (tmp_path / "run" / "pages.jsonl").read_text().count("\n") == 4


def test_the_judge_asks_the_real_server_with_structured_output(
    vllm_teacher: TeacherSettings, chunks: list[Chunk]
) -> None:
    import asyncio

    from domainlm.checks.judge import AnswerJudge, JudgeSettings, build_judge

    # A configured teacher means a judge unless it is switched off; the tiny model cannot judge well,
    # so only the plumbing is proved: the schema holds, three verdicts with a reason, the cost counted.
    judge = build_judge(JudgeSettings(), vllm_teacher, TeacherClient(vllm_teacher))
    assert isinstance(judge, AnswerJudge)
    chunk = chunks[0]
    verdicts, cost = asyncio.run(
        judge.judge("이 조항은 무엇을 정합니까?", chunk.text[:60], chunk.text, chunk.section)
    )
    assert [v.name for v in verdicts] == ["judge-entailed", "judge-standalone", "judge-relevant"], verdicts
    assert all(v.detail for v in verdicts) and len({v.detail for v in verdicts}) == 1
    assert (
        cost["judge_prompt_tokens"] > 100
        and cost["judge_completion_tokens"] > 0
        and cost["judge_seconds"] > 0
    )
