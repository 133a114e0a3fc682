"""The local backend runs each stage as a child process, follows exit codes, cancels with SIGTERM."""

from __future__ import annotations

import time
from pathlib import Path

from trainer_fakes import fake_stages, spec

from domainlm_trainer.local import LocalBackend, train_stages
from domainlm_trainer.runs import RunConfig, RunSpec, RunStatus


def _wait(backend: LocalBackend, s: RunSpec, timeout: float = 30) -> RunStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = backend.status(s)
        if status.finished:
            return status
        time.sleep(0.05)
    raise AssertionError(f"run did not finish: {backend.status(s)}")


def test_stages_run_in_order_and_succeed(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, "domainlm", fake_stages({}))
    s = spec()
    assert backend.submit(s).state in ("pending", "running")
    status = _wait(backend, s)
    assert (status.state, status.stage, status.message) == ("succeeded", "dpo", "")
    assert status.model_dir == str(tmp_path / "run-a" / "model")
    logs = backend.logs(s, 100)
    assert [line for line in logs if line.startswith("stage ")] == [
        "stage sft on sft.jsonl",
        "stage dpo on sft.jsonl",
    ]
    assert backend.logs(s, 1) == ["stage dpo on sft.jsonl"]


def test_a_failing_stage_fails_the_run_and_stops_it(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, "domainlm", fake_stages({"sft": "import sys; sys.exit(3)"}))
    s = spec()
    backend.submit(s)
    status = _wait(backend, s)
    assert (status.state, status.stage) == ("failed", "sft")
    assert status.message == "stage sft exited with code 3"
    assert not any("stage dpo" in line for line in backend.logs(s, 100))


def test_cancel_stops_the_stage_in_hand(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    code = f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)"
    backend = LocalBackend(tmp_path / "runs", "domainlm", fake_stages({"sft": code}))
    s = spec()
    backend.submit(s)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert backend.status(s).state == "running"
    started = time.monotonic()
    backend.cancel(s)
    status = _wait(backend, s, timeout=10)
    assert (status.state, status.stage) == ("cancelled", "sft")
    assert time.monotonic() - started < 10
    assert not any("stage dpo" in line for line in backend.logs(s, 100))


def test_a_killed_driver_fails_the_run(tmp_path: Path) -> None:
    import os
    import signal

    backend = LocalBackend(tmp_path, "domainlm", fake_stages({"sft": "import time; time.sleep(60)"}))
    s = spec()
    backend.submit(s)
    time.sleep(0.5)
    pid = int((tmp_path / "run-a" / "pid").read_text())
    os.killpg(pid, signal.SIGKILL)  # the driver and its stage, as a crash would
    status = _wait(backend, s, timeout=10)
    assert status.state == "failed" and "died" in status.message


def test_real_cli_stages() -> None:
    s = RunSpec("r", "file:///snap/sft.jsonl", "/snap/dpo.jsonl",
                RunConfig(base_model="/models/base", sft_epochs=2, dpo_lr=1e-6, max_steps=5), "local")  # fmt: skip
    sft, dpo = train_stages("/venv/bin/domainlm", s, Path("/runs/r"))
    assert sft["argv"] == ["/venv/bin/domainlm", "train", "sft", "--model", "/models/base", "--data",
                           "/snap/sft.jsonl", "--output", "/runs/r/sft", "--epochs", "2", "--lr", "2e-05",
                           "--max-steps", "5"]  # fmt: skip
    assert dpo["argv"][:9] == ["/venv/bin/domainlm", "train", "dpo", "--model", "/runs/r/sft", "--data",
                               "/snap/dpo.jsonl", "--output", "/runs/r/model"]  # fmt: skip
    assert dpo["argv"][9:] == ["--epochs", "1.0", "--lr", "1e-06", "--max-steps", "5"]
    assert len(train_stages("domainlm", RunSpec("r", "s", "", RunConfig(base_model="b")), Path("/r"))) == 1


def test_read_log_from_an_offset(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, "domainlm", fake_stages({}))
    s = spec()
    (tmp_path / "run-a").mkdir()
    log = tmp_path / "run-a" / "run.log"
    assert backend.read_log(s, 0) == ([], 0)
    log.write_bytes("한 줄\npartial".encode())
    lines, offset = backend.read_log(s, 0)
    assert lines == ["한 줄"] and offset == len("한 줄\n".encode())
    with log.open("ab") as f:
        f.write(b" line\nnext\n")
    assert backend.read_log(s, offset) == (["partial line", "next"], log.stat().st_size)
