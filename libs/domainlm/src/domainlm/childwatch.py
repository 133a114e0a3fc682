"""`python -m domainlm.childwatch PARENT_PID -- COMMAND...`: runs COMMAND and ends it when PARENT dies.

A server the project starts for its caller (the run's vLLM teacher, `domainlm serve`, test fixtures) must
not outlive a caller that is SIGKILLed: nothing else would ever stop it (a vLLM server holds about a GB
and its port). Linux's parent-death signal follows the *thread* that forked, which in a threaded caller
can end long before the caller does, so this watchdog polls instead: it sits between the caller and the
server, in the server's process group, and when it is re-parented (its parent is gone) it stops the
whole group, SIGTERM first, SIGKILL after a grace period. Deliberate daemons (`stack up`, a published
local server) are started without it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

POLL_S = 0.5
GRACE_S = 20.0


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    deadline = time.monotonic() + GRACE_S
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    # Whatever is left in the group (a server's own workers), and this watchdog with it.
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: python -m domainlm.childwatch PARENT_PID -- COMMAND...", file=sys.stderr)
        return 2
    parent, command = int(argv[1]), argv[3:]
    child = subprocess.Popen(command)  # same session and process group as this watchdog

    def forward(sig: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    while True:
        try:
            return child.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            pass
        if os.getppid() != parent:  # re-parented: the caller is gone
            _stop_group(child)
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
