"""`domainlm serve`: the real vLLM OpenAI-compatible server on a model directory, until stopped."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

from domainlm.vllm_server import VllmServer


def serve(
    model: Path,
    name: str,
    port: int,
    host: str = "127.0.0.1",
    max_model_len: int = 4096,
    kv_cache_gib: int = 1,
    enforce_eager: bool = False,
    check: bool = True,
    stop: threading.Event | None = None,
) -> None:
    """Starts vLLM on `model` as `name`, blocks until SIGINT/SIGTERM (or `stop` is set), then stops it."""
    if check:
        from domainlm.training.servable import check_servable

        check_servable(model)
    stop = stop or threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with VllmServer(
            model,
            name,
            port=port,
            host=host,
            max_model_len=max_model_len,
            kv_cache_gib=kv_cache_gib,
            enforce_eager=enforce_eager,
        ) as server:
            print(f"serving {model} as {name!r} at {server.base_url} (log: {server.log_path})", flush=True)
            while not stop.wait(1.0):
                if (code := server.exit_code()) is not None:
                    raise RuntimeError(f"vLLM exited with {code}; see {server.log_path}")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
