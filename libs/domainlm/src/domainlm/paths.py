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


def corpus_dir() -> Path:
    """The shared 약관 corpus: DOMAINLM_CORPUS, else ../shared/corpus beside the checkout, else the
    workplace's copy (tests and benchmarks say so and skip or fall back where it is absent)."""
    root = project_root()
    for c in (os.environ.get("DOMAINLM_CORPUS"), root.parent / "shared" / "corpus", "/work/shared/corpus"):
        if c and Path(c).is_dir():
            return Path(c)
    return root.parent / "shared" / "corpus"


def sample_policy() -> Path:
    """The project's own sample policy (text layer), for the demo, tests and benchmarks."""
    return project_root() / "examples" / "sample-policy" / "domainlm-sample-policy.pdf"
