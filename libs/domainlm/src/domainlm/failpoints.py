"""Fault injection for the fault tests: with DOMAINLM_FAILPOINT=NAME, the process SIGKILLs itself when it
reaches the failpoint NAME, mid-stage, where a timed kill would rarely land (review and export take
milliseconds). Unset, a failpoint is one dictionary lookup."""

from __future__ import annotations

import os
import signal

ENV = "DOMAINLM_FAILPOINT"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
