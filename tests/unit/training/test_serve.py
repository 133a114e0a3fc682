"""`domainlm serve` listens where --host says; the server is still reached on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainlm import vllm_server
from domainlm.vllm_server import VllmServer


def test_vllm_server_listens_on_the_given_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vllm_server, "vllm_python", lambda: Path("/venv/bin/python"))
    cmd = VllmServer(Path("m"), "n", port=8123, host="0.0.0.0").command()
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == "8123"
    default = VllmServer(Path("m"), "n", port=8123).command()
    assert default[default.index("--host") + 1] == "127.0.0.1"
    assert VllmServer(Path("m"), "n", port=8123, host="0.0.0.0").base_url == "http://127.0.0.1:8123/v1"
