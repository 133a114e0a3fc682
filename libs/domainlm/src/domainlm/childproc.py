"""Servers the project runs as child processes (vLLM, the Kafka broker): start, wait, stop.

Each runs in a session of its own with its output in a log file, so that stopping it reaches every
process it forked, and a failed start can show the tail of what it said. Each dies with its starter
(domainlm.childwatch) unless it is started as a daemon (`detached`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def pid_alive(pid: int) -> bool:
    """Whether a process (not necessarily our child) is running; a zombie is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # exited but not yet reaped by its parent
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:  # no /proc: kill(0) answered, so it is there
        return True


def stop_pid_group(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM to the session a process leads, SIGKILL if it is still there after `timeout`.

    For servers another command started (a stack's state file, a publisher's pidfile): only the pid is
    known, so this waits on liveness rather than on a Popen. A process that is our own child is reaped.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _gone(pid):
            return


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return not pid_alive(pid)


class ChildServer:
    """A server process: subclasses say how to start it (`start`) and when it is ready (`ready`).

    It dies with the process that started it (domainlm.childwatch sits between them), unless
    `detached` is set before `start()`: then it is a daemon its starter records and stops itself.
    """

    what = "server"
    log_path: Path
    detached = False
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def spawn(self, command: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> None:
        """Starts `command` and waits until `ready()`; fails with the log's tail if it exits first."""
        argv = list(command)
        if not self.detached:
            argv = [sys.executable, "-m", "domainlm.childwatch", str(os.getpid()), "--", *argv]
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self._proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.what} exited with {self._proc.returncode} while starting:\n{tail}")
            if self.ready():
                return
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"{self.what} was not ready within {timeout:.0f}s (log: {self.log_path})")

    @property
    def pid(self) -> int:
        """The started server's pid (it leads its own session)."""
        if self._proc is None:
            raise RuntimeError(f"{self.what} is not started")
        return self._proc.pid

    def exit_code(self) -> int | None:
        """None while the server runs (or was never started); its exit status once it has exited."""
        return None if self._proc is None else self._proc.poll()

    def stop(self) -> None:
        if self._proc is not None:
            stop_group(self._proc)
            self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def accepts_connections(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class DataDirServer(ChildServer):
    """A server with a data directory (a throwaway temporary one unless given), a free port and a log."""

    def __init__(self, data_dir: Path | None, prefix: str) -> None:
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix=prefix)
        self.data_dir = data_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = self.data_dir / "server.log"

    def ready(self) -> bool:
        return accepts_connections(self.port)

    def stop(self) -> None:
        super().stop()
        if self._tmp is not None:
            self._tmp.cleanup()
