"""The local backend: each run is a detached driver process (domainlm_trainer.localrun) in its own
directory under the runs directory, running `domainlm train sft` and then `domainlm train dpo`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domainlm.childproc import pid_alive
from domainlm_trainer.localrun import LOG, PID, PLAN, STATUS
from domainlm_trainer.runs import RunSpec, RunStatus, local_path, train_args

Stage = dict[str, Any]  # {"name": ..., "argv": [...]}


def train_stages(cli: str, spec: RunSpec, run_dir: Path) -> list[Stage]:
    """`domainlm train sft` from the base model, then `domainlm train dpo` from the SFT model."""
    args = train_args(
        spec, local_path(spec.sft_data), str(run_dir / "sft"), local_path(spec.dpo_data),
        str(model_dir_of(run_dir, spec)),
    )  # fmt: skip
    return [{"name": name, "argv": [cli, *a]} for name, a in args.items()]


def model_dir_of(run_dir: Path, spec: RunSpec) -> Path:
    return run_dir / ("model" if spec.dpo_data else "sft")


class LocalBackend:
    name = "local"

    def __init__(
        self,
        runs_dir: Path,
        cli: str,
        stages: Callable[[str, RunSpec, Path], list[Stage]] = train_stages,
    ) -> None:
        self.runs_dir, self.cli, self.stages = runs_dir, cli, stages
        self._children: list[subprocess.Popen[bytes]] = []  # polled (reaped) so none stays a zombie

    def run_dir(self, spec: RunSpec) -> Path:
        return self.runs_dir / spec.id

    def submit(self, spec: RunSpec) -> RunStatus:
        run_dir = self.run_dir(spec)
        run_dir.mkdir(parents=True, exist_ok=True)  # the service's spec.json may be there already
        if (run_dir / PLAN).exists():
            raise FileExistsError(f"run {spec.id} was submitted before ({run_dir})")
        plan = {"stages": self.stages(self.cli, spec, run_dir)}
        (run_dir / PLAN).write_text(json.dumps(plan, indent=1), encoding="utf-8")
        (run_dir / STATUS).write_text(json.dumps({"state": "pending"}), encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "domainlm_trainer.localrun", str(run_dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # survives the service; SIGTERM reaches the driver only
        )  # fmt: skip
        (run_dir / PID).write_text(str(proc.pid), encoding="utf-8")
        self._children.append(proc)
        return self.status(spec)

    def _pid(self, spec: RunSpec) -> int | None:
        f = self.run_dir(spec) / PID
        return int(f.read_text()) if f.exists() else None

    def _alive(self, pid: int) -> bool:
        for proc in self._children:
            if proc.pid == pid:
                return proc.poll() is None
        return pid_alive(pid)

    def status(self, spec: RunSpec) -> RunStatus:
        run_dir = self.run_dir(spec)
        f = run_dir / STATUS
        if not f.exists():
            return RunStatus("failed", message=f"no run directory {run_dir}")
        data = json.loads(f.read_text(encoding="utf-8"))
        status = RunStatus(
            data.get("state", "pending"), data.get("stage", ""), data.get("message", ""),
            str(model_dir_of(run_dir, spec)),
        )  # fmt: skip
        if not status.finished:
            pid = self._pid(spec)
            if pid is not None and not self._alive(pid):
                # the driver writes its final state before it exits: re-read once, then it died
                data = json.loads(f.read_text(encoding="utf-8"))
                if data.get("state") in ("succeeded", "failed", "cancelled"):
                    return RunStatus(data["state"], data.get("stage", ""), data.get("message", ""),
                                     status.model_dir)  # fmt: skip
                return RunStatus("failed", status.stage, "the run's driver process died", status.model_dir)
        return status

    def cancel(self, spec: RunSpec) -> RunStatus:
        pid = self._pid(spec)
        if pid is not None and not self.status(spec).finished and self._alive(pid):
            os.kill(pid, signal.SIGTERM)
        return self.status(spec)

    def read_log(self, spec: RunSpec, offset: int) -> tuple[list[str], int]:
        """The complete lines written since byte `offset`, and the offset after them."""
        f = self.run_dir(spec) / LOG
        if not f.exists():
            return [], offset
        with f.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
        return data[:end].decode("utf-8", errors="replace").splitlines(), offset + end

    def logs(self, spec: RunSpec, tail: int) -> list[str]:
        f = self.run_dir(spec) / LOG
        if tail <= 0 or not f.exists():
            return []
        with f.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
        return lines[-tail:]
