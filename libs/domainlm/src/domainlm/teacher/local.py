"""The teacher a run starts for itself when none is configured: real vLLM on CPU serving a tiny model.

This is what lets `domainlm run` work on a fresh machine with no model hub. The tiny model is built from
the run's own document text (its tokenizer is trained on it) and has random weights: it exercises
every part of the loop for real, but the faithfulness check rejects nearly everything it writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from domainlm.teacher.settings import TeacherSettings
from domainlm.tinymodel import build_tiny_model
from domainlm.vllm_server import VllmServer

LOCAL_MODEL_NAME = "domainlm-tiny"


class LocalTeacher:
    def __init__(
        self, model_dir: Path, corpus: Callable[[], Iterable[str]], log_path: Path | None = None
    ) -> None:
        self.model_dir, self.corpus, self.log_path = model_dir, corpus, log_path
        self._server: VllmServer | None = None

    def start(self, base: TeacherSettings) -> TeacherSettings:
        if not (self.model_dir / "config.json").exists():
            build_tiny_model(self.model_dir, self.corpus())
        self._server = VllmServer(
            self.model_dir, LOCAL_MODEL_NAME, log_path=self.log_path, enforce_eager=True
        ).start()
        # A random model rarely closes its JSON early: give it room, and keep the 2-core server busy but
        # not swamped.
        return base.model_copy(
            update={
                "base_url": self._server.base_url,
                "model": LOCAL_MODEL_NAME,
                "max_tokens": max(base.max_tokens, 2560),
                "concurrency": min(base.concurrency, 16),
            }
        )

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.stop()
            self._server = None

    def __enter__(self) -> LocalTeacher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
