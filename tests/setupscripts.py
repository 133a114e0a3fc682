"""Tools the tests need that the project's setup scripts build or fetch (idempotent, fast once done)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from corpus import ROOT


def setup_script(name: str, timeout: float = 1200) -> Path:
    """Runs scripts/NAME (a fresh checkout gets the tool on first use) and returns the path it prints
    last; the test fails, with the script's own words, when it cannot."""
    done = subprocess.run([str(ROOT / "scripts" / name)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"scripts/{name} failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])
