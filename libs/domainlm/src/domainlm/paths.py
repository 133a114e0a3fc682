"""Where the project's own files live when running from a checkout."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout root: DOMAINLM_ROOT if set, else the nearest parent holding scripts/setup-vllm.sh."""
    if env := os.environ.get("DOMAINLM_ROOT"):
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "scripts" / "setup-vllm.sh").exists():
            return parent
    return Path.cwd()


def package_data(*parts: str) -> Path:
    return Path(__file__).parent.joinpath(*parts)
