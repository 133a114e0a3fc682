"""Starts and stops the real vLLM OpenAI-compatible server (CPU build) as a child process.

vLLM lives in its own virtualenv (.venv-vllm, made by scripts/setup-vllm.sh) because its pinned torch
and transformers must not constrain the rest of the project.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

from domainlm.childproc import ChildServer, free_port
from domainlm.paths import project_root


def vllm_python() -> Path:
    venv = Path(os.environ.get("DOMAINLM_VLLM_VENV", project_root() / ".venv-vllm"))
    python = venv / "bin" / "python"
    if not python.exists():
        raise RuntimeError(
            f"no vLLM environment at {venv}: run scripts/setup-vllm.sh (the README's commands do it)"
        )
    return python


class VllmServer(ChildServer):
    """Context manager around ``python -m vllm.entrypoints.openai.api_server``.

    >>> with VllmServer(Path("models/tiny"), name="tiny") as server:  # doctest: +SKIP
    ...     server.base_url
    'http://127.0.0.1:41234/v1'
    """

    what = "vLLM"

    def __init__(
        self,
        model: Path,
        name: str,
        port: int | None = None,
        max_model_len: int = 4096,
        kv_cache_gib: int = 1,
        log_path: Path | None = None,
        startup_timeout: float = 300.0,
        enforce_eager: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        self.model, self.name = model, name
        # The address it listens on; it is reached (ready(), base_url) on 127.0.0.1 either way.
        self.host = host
        self.port = port or free_port()
        self.max_model_len, self.kv_cache_gib = max_model_len, kv_cache_gib
        self.log_path = log_path or Path(f"/tmp/domainlm-vllm-{self.port}.log")
        self.startup_timeout = startup_timeout
        # Skips torch.compile: about 10 s less start-up, which is most of what a tiny model costs.
        self.enforce_eager = enforce_eager

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        # The `vllm` console script fails on package metadata in this build; the module entry works.
        return [
            str(vllm_python()), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model), "--served-model-name", self.name,
            "--host", self.host, "--port", str(self.port),
            "--max-model-len", str(self.max_model_len), "--dtype", "float32",
            # On CPU this flag is the share of RAM reserved; the KV cache size comes from the env below.
            "--gpu-memory-utilization", "0.15",
            # A model that has not learned JSON would otherwise fill its budget with legal whitespace.
            "--structured-outputs-config", json.dumps({"backend": "xgrammar", "disable_any_whitespace": True}),
        ] + (["--enforce-eager"] if self.enforce_eager else [])  # fmt: skip

    def start(self) -> VllmServer:
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(self.kv_cache_gib), "HF_HUB_OFFLINE": "1"}
        self.spawn(self.command(), self.startup_timeout, env)
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False


if __name__ == "__main__":  # pragma: no cover - manual use: python -m domainlm.vllm_server MODEL NAME
    with VllmServer(Path(sys.argv[1]), sys.argv[2]) as s:
        print(s.base_url, flush=True)
        while True:
            time.sleep(3600)
