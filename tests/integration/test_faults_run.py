"""Faults the one-process run survives. `domainlm run` SIGKILLed at random points (five seeds), inside
each stage (extract, generate, review, dedup, export: a failpoint) and once while it trains: the same
command then finishes, its exports are byte-identical to an uninterrupted run's, no JSONL file holds a
torn line, and no process it started outlives it. A full disk (a small tmpfs) during export and during a
training checkpoint gives a clear error, leaves the previous exports intact, and the re-run completes
once there is space."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from corpus import ROOT, SAMPLE_POLICY, corpus_pdf

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = str(ROOT / ".venv" / "bin" / "domainlm")
EXPORTS = ("export/sft.jsonl", "export/dpo.jsonl")
SEEDS = range(5)


def command(inbox: Path, out: Path, *extra: str) -> list[str]:
    return [CLI, "run", "--input", str(inbox), "--output", str(out), *extra]


def finish(inbox: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command(inbox, out, *extra), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def torn_lines(out: Path) -> list[str]:
    """Lines of the run's JSONL files that do not parse (there must be none)."""
    bad = []
    for path in out.rglob("*.jsonl"):
        # JSONL lines end at \n only: model text may hold \u2028 or \x0c, which splitlines() would cut at.
        lines = path.read_text(encoding="utf-8").split("\n")
        for n, line in enumerate(lines[:-1] if lines[-1] == "" else lines, 1):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad.append(f"{path.relative_to(out)}:{n}")
    return bad


def kill_at(cmd: list[str], delay: float | None = None, when: Path | None = None) -> tuple[str, list[int]]:
    """Starts the command, SIGKILLs it after `delay` seconds or once `when` exists; returns the stage it
    was in (its last progress line) and the pids of the processes it had started."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.monotonic()
    while proc.poll() is None:
        if (delay is not None and time.monotonic() - started >= delay) or (
            when is not None and when.exists()
        ):
            break
        time.sleep(0.05)
    children = (
        [c.pid for c in psutil.Process(proc.pid).children(recursive=True)] if proc.poll() is None else []
    )
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    stage = next((ln.split(":")[0].strip() for ln in reversed(err.decode(errors="replace").replace("\r", "\n").splitlines())
                  if ln.strip() and ":" in ln), "?")  # fmt: skip
    return stage, children


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` for the block; skips, saying why, where mounting is refused."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def survivors(pids: list[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [
            p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            return []
        time.sleep(0.2)
    return alive


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Two policies (one a scan read by OCR) and a second real one, so every stage takes a moment.
    box = tmp_path_factory.mktemp("inbox")
    for pdf in [*SAMPLE_POLICY.parent.glob("*.pdf"), corpus_pdf("05")]:
        shutil.copy(pdf, box / pdf.name)
    return box


@pytest.fixture(scope="module")
def reference(inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("reference") / "run"
    started = time.monotonic()
    finish(inbox, out, "--until", "export")
    return out, time.monotonic() - started


def test_killed_at_random_points_the_run_resumes_to_identical_exports(
    inbox: Path, reference: tuple[Path, float], tmp_path: Path
) -> None:
    ref, seconds = reference
    figures = {"faults": 0, "records_checked": 0, "lost": 0, "duplicated": 0, "orphans": 0, "stages": []}
    for seed in SEEDS:
        out = tmp_path / f"seed{seed}"
        delay = random.Random(seed).uniform(0.5, seconds * 0.95)
        stage, children = kill_at(command(inbox, out, "--until", "export"), delay=delay)
        figures["faults"] += 1
        figures["stages"].append(stage)
        orphans = survivors(children)
        figures["orphans"] += len(orphans)
        assert not orphans, f"seed {seed}: processes outlived the killed run: {orphans}"
        finish(inbox, out, "--until", "export")
        assert not torn_lines(out), torn_lines(out)
        for name in EXPORTS:
            want = (ref / name).read_bytes().split(b"\n")
            got = (out / name).read_bytes().split(b"\n")
            figures["records_checked"] += len(want)
            figures["lost"] += len(set(want) - set(got))
            figures["duplicated"] += len(got) - len(set(got))
            assert (out / name).read_bytes() == (ref / name).read_bytes(), (
                f"seed {seed} killed in {stage}: {name}"
            )
    print("fault figures:", json.dumps(figures, ensure_ascii=False))
    assert figures["lost"] == figures["duplicated"] == figures["orphans"] == 0


@pytest.mark.parametrize("point", ["extract", "generate", "review", "dedup", "export"])
def test_killed_inside_each_stage_the_run_resumes_to_identical_exports(
    point: str, inbox: Path, reference: tuple[Path, float], tmp_path: Path
) -> None:
    # A failpoint kills the run inside the stage (review and export take milliseconds: a timed kill
    # rarely lands there).
    ref, _ = reference
    out = tmp_path / point
    killed = subprocess.run(command(inbox, out, "--until", "export"), capture_output=True, timeout=600,
                            env={**os.environ, "DOMAINLM_FAILPOINT": point})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    finish(inbox, out, "--until", "export")
    assert not torn_lines(out)
    for name in EXPORTS:
        assert (out / name).read_bytes() == (ref / name).read_bytes(), f"killed in {point}: {name}"


def test_killed_while_training_the_run_resumes_and_publishes(
    inbox: Path, reference: tuple[Path, float], tmp_path: Path
) -> None:
    ref, _ = reference
    out = tmp_path / "train"
    _, children = kill_at(command(inbox, out, "--until", "publish"), when=out / "train" / "sft")
    assert not survivors(children)
    assert not (out / "train" / "sft" / "train_summary.json").exists(), "killed too late: SFT had finished"
    finish(inbox, out, "--until", "publish")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["published"]["published"] and summary["published"]["version"] == "v0001"
    assert not torn_lines(out)
    for name in EXPORTS:
        assert (out / name).read_bytes() == (ref / name).read_bytes()


def test_a_full_disk_during_export_is_a_clear_error_and_the_rerun_completes(
    inbox: Path, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", "48m") as disk:
        out = disk / "run"
        finish(inbox / SAMPLE_POLICY.name, out, "--until", "export")  # a first, smaller run fits
        before = {name: (out / name).read_bytes() for name in EXPORTS}
        # Fill the disk to a few kilobytes, then run on more documents: it cannot write its outputs.
        filler = disk / "filler"
        with filler.open("wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
            except OSError:
                pass
        full = subprocess.run(
            command(inbox, out, "--until", "export"), capture_output=True, text=True, timeout=600
        )
        assert full.returncode == 1, full.stderr[-2000:]
        last = full.stderr.strip().splitlines()[-1]
        assert last.startswith("error: no space left on device") and "resumes" in last, last
        for name in EXPORTS:  # the previous exports are whole and unchanged
            assert (out / name).read_bytes() == before[name]
        filler.unlink()
        finish(inbox, out, "--until", "export")
        assert not torn_lines(out)
        # The same two runs without the fault (the first run's items are kept first by dedup, so the
        # comparison is with the same sequence, not with one run over everything).
        same = tmp_path / "same"
        finish(inbox / SAMPLE_POLICY.name, same, "--until", "export")
        finish(inbox, same, "--until", "export")
        for name in EXPORTS:
            assert (out / name).read_bytes() == (same / name).read_bytes()


def test_a_full_disk_during_a_checkpoint_is_a_clear_error_and_the_rerun_publishes(
    inbox: Path, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", "256m") as disk:
        out = disk / "run"
        finish(inbox, out, "--until", "export")
        before = {name: (out / name).read_bytes() for name in EXPORTS}
        # Leave room for the base model, not for a training checkpoint (weights and optimiser state).
        filler = disk / "filler"
        free = shutil.disk_usage(disk).free
        filler.write_bytes(b"\0" * max(0, free - 20 * (1 << 20)))
        full = subprocess.run(
            command(inbox, out, "--until", "publish"), capture_output=True, text=True, timeout=900
        )
        assert full.returncode == 1, full.stderr[-3000:]
        last = full.stderr.strip().splitlines()[-1]
        assert last.startswith("error: no space left on device") and "resumes" in last, last
        assert (out / "train").exists() and not (out / "train" / "sft" / "train_summary.json").exists()
        for name in EXPORTS:
            assert (out / name).read_bytes() == before[name]
        filler.unlink()
        finish(inbox, out, "--until", "publish")
        summary = json.loads((out / "summary.json").read_text())
        assert summary["published"]["published"] and summary["published"]["version"] == "v0001"
        assert not torn_lines(out)
