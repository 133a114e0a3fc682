"""The local backend's run driver: `python -m domainlm_trainer.localrun RUN_DIR`.

Runs the stages of RUN_DIR/plan.json one after another as child processes (output appended to
RUN_DIR/run.log) and keeps RUN_DIR/status.json current. SIGTERM stops the stage in hand and records
the run as cancelled; a stage's non-zero exit code fails the run. Detached from the service, so a
restart of the service leaves the run going.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

PLAN, STATUS, LOG, PID = "plan.json", "status.json", "run.log", "pid"


def write_status(run_dir: Path, **status: Any) -> None:
    tmp = run_dir / f".{STATUS}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(status), encoding="utf-8")
    os.replace(tmp, run_dir / STATUS)


def main(run_dir: Path) -> int:
    plan = json.loads((run_dir / PLAN).read_text(encoding="utf-8"))
    child: subprocess.Popen[bytes] | None = None
    cancelled = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal cancelled
        cancelled = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, on_term)
    with (run_dir / LOG).open("ab") as log:
        for stage in plan["stages"]:
            if cancelled:
                break
            write_status(run_dir, state="running", stage=stage["name"], message="")
            log.write(f"== stage {stage['name']}: {' '.join(stage['argv'])}\n".encode())
            log.flush()
            child = subprocess.Popen(stage["argv"], stdout=log, stderr=subprocess.STDOUT, cwd=run_dir)
            code = child.wait()
            if cancelled:
                break
            if code != 0:
                write_status(run_dir, state="failed", stage=stage["name"],
                             message=f"stage {stage['name']} exited with code {code}", exit_code=code)  # fmt: skip
                return code
        if cancelled:
            write_status(run_dir, state="cancelled", stage=stage["name"], message="cancelled (SIGTERM)")
            return 143
    write_status(run_dir, state="succeeded", stage=plan["stages"][-1]["name"], message="", exit_code=0)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
