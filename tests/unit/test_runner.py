"""The one-process runner's logic with an in-memory teacher: every stage, accounting, resume."""

from __future__ import annotations

from pathlib import Path

import datasets

from corpus import SAMPLE_POLICY
from domainlm.fakes import ExtractiveTeacher
from domainlm.generation import GenerateSettings
from domainlm.jsonl import read_rows
from domainlm.review import ReviewPolicy, ReviewSettings
from domainlm.runner import PipelineRun, RunSettings


def test_full_run_accounts_for_everything_and_resumes(tmp_path) -> None:
    out = tmp_path / "run"
    teacher = ExtractiveTeacher(fail_every=7, malformed_every=5)
    result = PipelineRun([SAMPLE_POLICY], out, teacher=teacher, progress=False).run()
    f = result.funnel
    assert f["extract"] == {"in": 1, "out": 1, "rejected": {}}
    assert f["generate"]["in"] == result.counts["chunks"]
    assert (
        f["generate"]["rejected"]["teacher-http-503"] > 0
        and f["generate"]["rejected"]["malformed-output"] > 0
    )
    assert result.counts["verified"] > 20 and result.counts["evolved"] > 0 and result.counts["pairs"] > 0
    # Stage counts chain: what one stage passes on, the next takes in.
    assert f["review"]["in"] == f["generate"]["out"]
    assert f["dedup"]["in"] == f["review"]["out"] and f["evolve"]["in"] == f["dedup"]["out"] - sum(
        1 for row in read_rows(out / "unique.jsonl") if row["kind"] == "mcq"
    )
    sft = datasets.load_dataset("json", data_files=str(out / "export" / "sft.jsonl"), split="train")
    dpo = datasets.load_dataset("json", data_files=str(out / "export" / "dpo.jsonl"), split="train")
    assert len(sft) == result.counts["sft_rows"] and len(dpo) == result.counts["pairs"]
    assert sft[0]["provenance"]["source"] == str(SAMPLE_POLICY) and sft[0]["provenance"]["pages"]

    # Resume: outages are retried, everything else comes from the ledgers.
    calls = teacher.calls
    healthy = ExtractiveTeacher()
    again = PipelineRun([SAMPLE_POLICY], out, teacher=healthy, progress=False).run()
    assert 0 < healthy.calls < calls / 3
    assert "teacher-http-503" not in again.funnel["generate"]["rejected"]
    assert again.counts["verified"] > result.counts["verified"]
    # A third run makes no teacher call at all and reproduces the same funnel.
    idle = ExtractiveTeacher()
    third = PipelineRun([SAMPLE_POLICY], out, teacher=idle, progress=False).run()
    assert idle.calls == 0 and third.funnel == again.funnel
    # Other settings are other work: nothing recorded under the old ones is reused.
    changed = RunSettings(generate=GenerateSettings(qa_per_chunk=1, mcq_per_chunk=1))
    fresh = ExtractiveTeacher()
    PipelineRun([SAMPLE_POLICY], out, changed, teacher=fresh, progress=False).run()
    assert fresh.calls >= third.counts["chunks"]


def test_human_policy_holds_items_until_decided(tmp_path) -> None:
    from domainlm.review import Decision, ReviewStore

    out = tmp_path / "run"
    settings = RunSettings(review=ReviewSettings(policy=ReviewPolicy.HUMAN))
    first = PipelineRun([SAMPLE_POLICY], out, settings, teacher=ExtractiveTeacher(), progress=False).run()
    assert first.counts["verified"] == 0 and first.funnel["review"]["rejected"]["awaiting-review"] > 0
    store = ReviewStore(out / "review.sqlite")
    pending = list(store.pending())
    store.decide(Decision(id=pending[0].id, action="approve", reviewer="kim"))
    store.decide(
        Decision(id=pending[1].id, action="edit", reviewer="kim", output=pending[1].output + " (검토함)")
    )
    store.close()
    second = PipelineRun([SAMPLE_POLICY], out, settings, teacher=ExtractiveTeacher(), progress=False).run()
    assert second.counts["verified"] == 2
    rows = list(read_rows(out / "export" / "sft.jsonl"))
    assert {r["review"] for r in rows} <= {"approved", "edited"}


def test_each_input_document_is_hashed_once(tmp_path, monkeypatch) -> None:
    import domainlm.extract.extractor as extractor_module
    import domainlm.runner as runner_module
    from domainlm.extract.documents import sha256_of

    hashed: list[str] = []

    def counting(path: Path) -> str:
        hashed.append(str(path))
        return sha256_of(path)

    monkeypatch.setattr(runner_module, "sha256_of", counting)
    monkeypatch.setattr(extractor_module, "sha256_of", counting)
    out = tmp_path / "run"
    out.mkdir()
    run = PipelineRun([SAMPLE_POLICY], out, teacher=ExtractiveTeacher(), progress=False)
    pages = run.extract()
    assert pages and {p.doc_id for p in pages} == {sha256_of(SAMPLE_POLICY)}
    assert hashed == [str(SAMPLE_POLICY)]


def test_a_judged_run_keeps_verdicts_on_items_and_totals_the_cost(tmp_path) -> None:
    from domainlm.checks.judge import JudgeSettings
    from domainlm.evolution import EvolveSettings
    from domainlm.jsonl import read_models
    from domainlm.records import Sample

    out = tmp_path / "run"
    settings = RunSettings(judge=JudgeSettings(enabled=True), evolve=EvolveSettings(depth=0))
    result = PipelineRun([SAMPLE_POLICY], out, settings, teacher=ExtractiveTeacher(), progress=False).run()
    samples = list(read_models(out / "samples.jsonl", Sample))
    assert len(samples) == result.counts["samples"] > 0
    assert all("judge-entailed" in {c.name for c in s.checks} for s in samples)
    report = (out / "report.md").read_text(encoding="utf-8")
    # The scripted judge reports 200 prompt and 20 completion tokens per call.
    assert f"Asked about {len(samples)} item(s); doubted 0" in report
    assert f"{200 * len(samples)} prompt + {20 * len(samples)} completion tokens (220.0 per item)" in report
    # Without a teacher URL (the embedded tiny teacher) the judge stays off unless asked for.
    PipelineRun([SAMPLE_POLICY], tmp_path / "plain", teacher=ExtractiveTeacher(), progress=False).run()
    assert "LLM judge" not in (tmp_path / "plain" / "report.md").read_text(encoding="utf-8")


def test_a_run_the_teacher_failed_says_what_is_left(tmp_path) -> None:
    out = tmp_path / "run"
    flaky = PipelineRun([SAMPLE_POLICY], out, teacher=ExtractiveTeacher(fail_every=4), progress=False).run()
    assert flaky.left and all(k.startswith(("generate: teacher-", "evolve: teacher-")) for k in flaky.left)
    assert flaky.refused_documents == 0
    healed = PipelineRun([SAMPLE_POLICY], out, teacher=ExtractiveTeacher(), progress=False).run()
    assert healed.left == {}
