"""The stage commands over JSONL, in process: review round trip, pairs, export, help texts."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from domainlm.cli import app
from domainlm.jsonl import read_rows, write_rows
from domainlm.records import Provenance, Sample, SampleKind

runner = CliRunner()


def make_samples(n: int) -> list[Sample]:
    prov = Provenance(doc_id="d", source="a.pdf", pages=[1], section="제1조(목적)", chunk_id="c")
    return [
        Sample(
            id=f"m{i}",
            kind=SampleKind.MCQ,
            instruction=f"질문 {i}?",
            output="정답",
            choices=["정답", "오답1", "오답2", "오답3"],
            answer_index=0,
            provenance=prov,
            scores={"answer_support": 0.9},
        )
        for i in range(n)
    ]


def test_review_round_trip_with_a_bad_decision_row(tmp_path) -> None:
    samples, store = tmp_path / "samples.jsonl", tmp_path / "review.sqlite"
    write_rows(samples, make_samples(3))
    r = runner.invoke(
        app, ["review", "submit", "--store", str(store), "-i", str(samples), "--policy", "human"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["review", "export", "--store", str(store), "-o", str(tmp_path / "pending.jsonl")])
    pending = list(read_rows(tmp_path / "pending.jsonl"))
    assert [p["id"] for p in pending] == ["m0", "m1", "m2"] and all(p["review"] == "pending" for p in pending)
    decisions = [
        {"id": "m0", "action": "approve", "reviewer": "kim"},
        {"id": "m1", "action": "edit", "reviewer": "kim", "output": "정답(수정)"},
        {"id": "nope", "action": "approve"},
        {"id": "m2", "action": "maybe"},
    ]
    write_rows(tmp_path / "decisions.jsonl", decisions)
    r = runner.invoke(
        app, ["review", "import", "--store", str(store), "-i", str(tmp_path / "decisions.jsonl")]
    )
    assert r.exit_code == 1  # some rows were bad: said so, and the good ones were applied
    assert "applied 2 decisions, skipped 2" in r.output and "decisions.jsonl:3" in r.output
    r = runner.invoke(app, ["review", "status", "--store", str(store)])
    assert json.loads(r.stdout) == {"approved": 1, "edited": 1, "pending": 1}
    r = runner.invoke(
        app,
        ["review", "export", "--store", str(store), "--state", "verified", "-o", str(tmp_path / "v.jsonl")],
    )
    verified = tmp_path / "v.jsonl"
    r = runner.invoke(
        app, ["pairs", "-i", str(verified), "-o", str(tmp_path / "pairs.jsonl"), "--sft-overlap", "1.0"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        [
            "export",
            "--samples",
            str(verified),
            "--pairs",
            str(tmp_path / "pairs.jsonl"),
            "-o",
            str(tmp_path / "export"),
        ],
    )
    assert "wrote 2 SFT rows and 2 DPO rows" in r.output


def test_every_command_has_help() -> None:
    for cmd in [
        "extract",
        "chunk",
        "generate",
        "dedup",
        "evolve",
        "pairs",
        "export",
        "run",
        "tiny-model",
        "review",
    ]:
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, cmd
