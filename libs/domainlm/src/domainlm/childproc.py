"""Servers the project runs as child processes (vLLM, the Kafka broker): one way to stop them."""

from __future__ import annotations

import contextlib
import os
import subprocess
from types import TracebackType
from typing import Self


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM to the child's whole session (servers fork workers), SIGKILL if it does not go."""
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)


class ChildServer:
    """Context-manager protocol for a server with `start()` and `stop()`."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
