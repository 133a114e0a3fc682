"""The registry and the gate: immutable versions, the current pointer, rollback, refusal when the new
model is not better (scores faked per model; the scoring itself is tested in test_evaluate.py)."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domainlm.childproc import pid_alive
from domainlm.cli import app
from domainlm.tinymodel import build_tiny_model
from domainlm.training import NotServable
from domainlm.training import publish as pub
from domainlm.training.evaluate import EvalReport, file_sha256
from domainlm.training.publish import PublishRefused, Registry, RegistryError, gate, publish

SCORES = {"base": -3.0, "good": -2.0, "better": -1.5, "worse": -2.5, "best": -1.0}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(
        tmp_path_factory.mktemp("m") / "tiny", ["보험금 지급 제1조"], vocab_size=400, hidden_size=64, layers=1
    )


@pytest.fixture
def models(tiny: Path, tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in SCORES:
        d = Path(shutil.copytree(tiny, tmp_path / "models" / name))
        if name != "base":  # a trained model names the model it started from
            summary = {"method": "sft", "settings": {"model": str(tmp_path / "models" / "base")}}
            (d / "train_summary.json").write_text(json.dumps(summary))
            (d / "checkpoints" / "checkpoint-1").mkdir(parents=True)
            (d / "checkpoints" / "checkpoint-1" / "trainer_state.json").write_text("{}")
        out[name] = d
    return out


@pytest.fixture
def held(tmp_path: Path) -> Path:
    row = {"messages": [{"role": "user", "content": "언제?"}, {"role": "assistant", "content": "3일"}]}
    path = tmp_path / "held.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.fixture
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fakes evaluate_model in the publisher: the score is the model directory's name's."""
    calls: list[str] = []

    def fake(model: Any, eval_file: Path, generate: bool = False, max_new_tokens: int = 0, items: Any = None):
        calls.append(Path(model).name)
        score = SCORES[Path(model).name]
        return EvalReport(
            str(model), str(eval_file), file_sha256(eval_file), 1, {"logprob_per_char": score}, generate, 0.0
        )

    monkeypatch.setattr(pub, "evaluate_model", fake)
    return calls


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_publish_creates_immutable_version_and_moves_current(
    models: dict[str, Path], held: Path, tmp_path: Path, evaluated: list[str]
) -> None:
    reg_dir = tmp_path / "reg"
    result = publish(models["good"], reg_dir, "insure", held)
    assert result.published and result.version == "v0001" and result.gate.passed
    assert evaluated == ["good", "base"]  # base found through train_summary.json
    reg = Registry(reg_dir, "insure")
    v1 = reg_dir / "insure" / "v0001"
    assert reg.versions() == ["v0001"] and reg.current_version() == "v0001" and reg.current_path() == v1
    assert not (v1 / "checkpoints").exists()
    assert (v1 / "model.safetensors").exists() and (v1 / "train_summary.json").exists()
    eval_json = json.loads((v1 / "eval.json").read_text())
    assert eval_json["metrics"]["logprob_per_char"] == SCORES["good"]
    manifest = json.loads((v1 / "publish.json").read_text())
    assert manifest["gate"]["passed"] and not manifest["forced"]
    assert manifest["gate"]["against"][0]["label"] == "base"
    assert all(_mode(p) == 0o444 for p in v1.iterdir() if p.is_file())
    before = {p.name: p.read_bytes() for p in v1.iterdir() if p.is_file()}

    # A better model: v0002; the published v0001 is compared through its own eval.json (same questions).
    evaluated.clear()
    assert publish(models["better"], reg_dir, "insure", held).version == "v0002"
    assert evaluated == ["better", "base"]
    assert reg.current_version() == "v0002"
    assert {p.name: p.read_bytes() for p in v1.iterdir() if p.is_file()} == before
    assert [e["action"] for e in reg.history()] == ["publish", "publish"]
    assert reg.current()["previous"] == "v0001"


def test_gate_refuses_a_model_not_better_than_the_published_one(
    models: dict[str, Path], held: Path, tmp_path: Path, evaluated: list[str]
) -> None:
    reg_dir = tmp_path / "reg"
    publish(models["good"], reg_dir, "insure", held)
    # "worse" beats its base (-2.5 > -3.0) but not the published v0001 (-2.0).
    with pytest.raises(PublishRefused, match="v0001") as e:
        publish(models["worse"], reg_dir, "insure", held)
    assert "not above" in str(e.value) and "--force" in str(e.value)
    reg = Registry(reg_dir, "insure")
    assert reg.versions() == ["v0001"] and reg.current_version() == "v0001"
    # Not better than its base: refused too, even with nothing published.
    with pytest.raises(PublishRefused, match="base"):
        publish(models["good"], tmp_path / "reg2", "insure", held, baselines=[models["better"]])
    # A margin: -1.5 beats -2.0, but not by more than 0.6.
    with pytest.raises(PublishRefused, match=r"by more than 0\.6"):
        publish(models["better"], reg_dir, "insure", held, min_gain=0.6)
    # --force publishes anyway, and says so.
    forced = publish(models["worse"], reg_dir, "insure", held, force=True)
    assert forced.version == "v0002" and forced.forced and not forced.gate.passed
    assert json.loads((reg_dir / "insure" / "v0002" / "publish.json").read_text())["forced"] is True


def test_refusals_before_any_evaluation(
    models: dict[str, Path], held: Path, tmp_path: Path, evaluated: list[str]
) -> None:
    with pytest.raises(PublishRefused, match="no base"):
        publish(models["base"], tmp_path / "reg", "insure", held)  # no train summary, no --baseline
    broken = Path(shutil.copytree(models["good"], tmp_path / "broken"))
    (broken / "generation_config.json").unlink()
    with pytest.raises(NotServable):
        publish(broken, tmp_path / "reg", "insure", held)
    with pytest.raises(RegistryError):
        Registry(tmp_path / "reg", "../escape")
    assert evaluated == []
    assert not (tmp_path / "reg" / "insure").exists() or Registry(tmp_path / "reg", "insure").versions() == []


def test_rollback_moves_back_past_withdrawn_versions(
    models: dict[str, Path], held: Path, tmp_path: Path, evaluated: list[str]
) -> None:
    reg_dir = tmp_path / "reg"
    reg = Registry(reg_dir, "insure")
    with pytest.raises(RegistryError, match="nothing is published"):
        reg.rollback()
    for name in ("good", "better", "best"):
        publish(models[name], reg_dir, "insure", held)
    assert reg.current_version() == "v0003"
    assert reg.rollback()["version"] == "v0002"
    assert reg.rollback()["version"] == "v0001"  # not back to v0003: it was rolled back from
    assert reg.withdrawn() == {"v0002", "v0003"}
    with pytest.raises(RegistryError, match="first version"):
        reg.rollback()
    assert reg.rollback(to="v0003")["version"] == "v0003"  # explicitly: allowed, and no longer withdrawn
    assert "v0003" not in reg.withdrawn()
    with pytest.raises(RegistryError, match="no version"):
        reg.rollback(to="v0009")
    assert [e["action"] for e in reg.history()] == ["publish"] * 3 + ["rollback"] * 3
    # Rollback deletes nothing; the next publish takes a fresh number.
    assert reg.versions() == ["v0001", "v0002", "v0003"]
    evaluated.clear()
    assert publish(models["best"], reg_dir, "insure", held, min_gain=-0.5).version == "v0004"


def test_versions_are_never_overwritten(
    models: dict[str, Path], held: Path, tmp_path: Path, evaluated: list[str]
) -> None:
    reg = Registry(tmp_path / "reg", "insure")
    with reg.lock():
        v1 = reg.add_version(models["good"], {})
        v2 = reg.add_version(models["good"], {})
    assert (v1, v2) == ("v0001", "v0002")
    # A stray directory with the next name (e.g. made by hand) is never written into.
    (reg.dir / "v0003").mkdir()
    with reg.lock():
        assert reg.add_version(models["good"], {}) == "v0004"
    assert list((reg.dir / "v0003").iterdir()) == []
    assert not [p for p in reg.dir.iterdir() if p.name.startswith(".staging")]


def test_gate_arithmetic() -> None:
    def rep(score: float) -> EvalReport:
        return EvalReport("m", "e", "h", 1, {"logprob_per_char": score, "char_f1": -score}, False, 0.0)

    assert gate(rep(-1.0), [("base", rep(-2.0))]).passed
    assert not gate(rep(-1.0), [("base", rep(-1.0))]).passed  # a tie does not beat
    assert not gate(rep(-1.0), []).passed  # nothing to beat is no evidence
    assert gate(rep(-2.0), [("base", rep(-1.0))], metric="char_f1").passed
    result = gate(rep(-1.0), [("base", rep(-2.0)), ("v0001", rep(-0.5))])
    assert [c.label for c in result.not_beaten] == ["v0001"]


def test_cli_publish_refusal_exits_1_and_rollback(
    models: dict[str, Path], held: Path, tmp_path: Path, evaluated: list[str]
) -> None:
    runner = CliRunner()
    reg = tmp_path / "reg"
    common = ["--registry", str(reg), "--name", "insure", "--eval", str(held)]
    ok = runner.invoke(app, ["publish", "--model", str(models["better"]), *common])
    assert ok.exit_code == 0, ok.output
    assert "published insure v0001" in ok.stdout
    refused = runner.invoke(app, ["publish", "--model", str(models["good"]), *common])
    assert refused.exit_code == 1 and "refused" in refused.output
    ok2 = runner.invoke(app, ["publish", "--model", str(models["best"]), *common])
    assert ok2.exit_code == 0 and "v0002" in ok2.stdout
    back = runner.invoke(app, ["rollback", "--registry", str(reg), "--name", "insure"])
    assert back.exit_code == 0 and "v0002 -> v0001" in back.stdout
    again = runner.invoke(app, ["rollback", "--registry", str(reg), "--name", "insure"])
    assert again.exit_code == 1 and "first version" in again.output


def test_cli_split_and_evaluate(tiny: Path, tmp_path: Path) -> None:
    rows = [
        {
            "id": f"s{i}",
            "messages": [
                {"role": "user", "content": f"질문 {i}"},
                {"role": "assistant", "content": f"답 {i}"},
            ],
            "provenance": {"doc_id": f"d{i % 3}", "section": "제1조"},
        }
        for i in range(9)
    ]
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    dpo = tmp_path / "dpo.jsonl"
    dpo.write_text("".join(json.dumps({"id": r["id"], "provenance": r["provenance"]}) + "\n" for r in rows))
    runner = CliRunner()
    out = runner.invoke(
        app,
        ["train", "split", "--data", str(data), "--train-out", str(tmp_path / "train.jsonl"),
         "--held-out", str(tmp_path / "held.jsonl"), "--held-out-share", "0.3", "--by", "doc",
         "--dpo", str(dpo), "--dpo-out", str(tmp_path / "dpo.train.jsonl")],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    held_rows = [json.loads(x) for x in (tmp_path / "held.jsonl").read_text().splitlines()]
    assert len(held_rows) == 3 and len({r["provenance"]["doc_id"] for r in held_rows}) == 1
    assert len((tmp_path / "train.jsonl").read_text().splitlines()) == 6
    dpo_kept = [json.loads(x) for x in (tmp_path / "dpo.train.jsonl").read_text().splitlines()]
    assert len(dpo_kept) == 6
    assert held_rows[0]["provenance"]["doc_id"] not in {r["provenance"]["doc_id"] for r in dpo_kept}
    # --dpo without --dpo-out is refused before anything is written
    bad = runner.invoke(
        app,
        ["train", "split", "--data", str(data), "--train-out", str(tmp_path / "t2.jsonl"),
         "--held-out", str(tmp_path / "h2.jsonl"), "--dpo", str(dpo)],
    )  # fmt: skip
    assert bad.exit_code == 2 and not (tmp_path / "t2.jsonl").exists()
    model = Path(shutil.copytree(tiny, tmp_path / "model"))
    ev = runner.invoke(app, ["evaluate", "--model", str(model), "--eval", str(tmp_path / "held.jsonl")])
    assert ev.exit_code == 0, ev.output
    assert json.loads((model / "eval.json").read_text())["questions"] == 3
    sel = runner.invoke(
        app, ["select-base", "--candidates", f"{model},{tiny}", "--eval", str(tmp_path / "held.jsonl"),
              "-o", str(tmp_path / "sel.json")],
    )  # fmt: skip
    assert sel.exit_code == 0, sel.output
    assert "best:" in sel.stdout and json.loads((tmp_path / "sel.json").read_text())["best"]


def test_stop_recorded_stops_the_whole_process_group(tmp_path: Path) -> None:
    """The pidfile serve_current writes: stopping reaches the server and what it forked, then the file goes."""
    import subprocess

    proc = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60"], start_new_session=True)
    pidfile = tmp_path / "vllm.pid.json"
    pidfile.write_text(json.dumps({"pid": proc.pid, "port": 1, "name": "x", "version": "v0001"}))
    pub.stop_recorded(pidfile, timeout=10)
    assert proc.poll() is not None and not pidfile.exists()
    # What is left of the group may be zombies waiting for an init that reaps them; none may run.
    left = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert not [pid for pid in left if pid_alive(int(pid))]
    pub.stop_recorded(pidfile)  # nothing recorded: nothing to do
