"""Servers started for a caller die with it, even when it is SIGKILLed; daemons stay until stopped; and
`domainlm run` says in its exit status whether it finished, must be resumed, or had no usable input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpus import ROOT, SAMPLE_POLICY
from domainlm.childproc import accepts_connections, free_port, pid_alive, stop_pid_group

pytestmark = pytest.mark.integration
CLI = str(ROOT / ".venv" / "bin" / "domainlm")

PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from domainlm.childproc import ChildServer, accepts_connections

    class Http(ChildServer):
        what = "http.server"
        def __init__(self, port, log):
            self.port, self.log_path = port, Path(log)
        def start(self):
            self.spawn([sys.executable, "-m", "http.server", str(self.port), "-b", "127.0.0.1"], 30)
            return self
        def ready(self):
            return accepts_connections(self.port)

    server = Http(int(sys.argv[1]), sys.argv[2])
    server.detached = sys.argv[3] == "detached"
    server.start()
    print(server.pid, flush=True)
    time.sleep(600)
    """
)


def wait_until(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return bool(check())


@pytest.mark.parametrize("mode", ["attached", "detached"])
def test_a_server_dies_with_its_killed_starter_unless_it_is_a_daemon(mode: str, tmp_path: Path) -> None:
    port = free_port()
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(port), str(tmp_path / "log"), mode],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    assert accepts_connections(port) and pid_alive(server_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    if mode == "attached":
        assert wait_until(lambda: not pid_alive(server_pid) and not accepts_connections(port), 10)
    else:  # a daemon outlives its starter until what recorded it stops it
        time.sleep(2)
        assert pid_alive(server_pid) and accepts_connections(port)
        stop_pid_group(server_pid, timeout=10)
        assert not pid_alive(server_pid)


def vllm_pids(marker: str) -> list[int]:
    """vLLM processes whose command line names this run's directory (its teacher's model is there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "vllm" in cmdline:
                found.append(int(entry.name))
    return found


def test_a_killed_run_leaves_no_teacher_behind_and_a_rerun_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = subprocess.Popen([CLI, "run", "--input", str(SAMPLE_POLICY), "--output", str(out), "--evolve-depth", "0",
                            "--source", "llm", "--until", "export"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        # SIGKILL while it generates: its local vLLM teacher is up and answering
        assert wait_until(lambda: (out / "ledger" / "generate.jsonl").exists() and vllm_pids(str(out)), 400)
        teacher = vllm_pids(str(out))
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert wait_until(lambda: not vllm_pids(str(out)), 40), f"teacher survived: {teacher}"
    # the same command again resumes and finishes (exit 0: everything carried as far as asked)
    again = subprocess.run([CLI, "run", "--input", str(SAMPLE_POLICY), "--output", str(out), "--evolve-depth", "0",
                            "--source", "llm", "--until", "export"],
                           capture_output=True, text=True, timeout=900)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.strip().splitlines()[-1].startswith("done in")
    assert again.stdout.strip().splitlines()[-1] == f"summary: {out / 'summary.json'}"
    assert "already extracted" in again.stderr and not vllm_pids(str(out))


def test_a_run_with_no_usable_input_says_so_in_its_exit_status(tmp_path: Path) -> None:
    (tmp_path / "letter.pdf").write_text("this is not a PDF")
    done = subprocess.run([CLI, "run", "--input", str(tmp_path / "letter.pdf"), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 4, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith("no usable input: 1 document(s) refused")
    assert os.path.exists(tmp_path / "out" / "rejections" / "extract.jsonl")
