"""Where the test data lives: the shared corpus and the project's sample policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _corpus_dir() -> Path:
    """DOMAINLM_CORPUS, else ../shared/corpus beside the checkout, else the workplace's shared copy."""
    candidates = [os.environ.get("DOMAINLM_CORPUS"), ROOT.parent / "shared" / "corpus", "/work/shared/corpus"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return ROOT.parent / "shared" / "corpus"


CORPUS = _corpus_dir()
SAMPLE_POLICY = ROOT / "examples" / "sample-policy" / "domainlm-sample-policy.pdf"


def corpus_pdf(prefix: str) -> Path:
    """A corpus PDF by its number prefix; the test skips, saying why, where the corpus is absent."""
    found = sorted(CORPUS.glob(f"{prefix}_*.pdf"))
    if not found:
        pytest.skip(f"corpus file {prefix}_*.pdf not found under {CORPUS}")
    return found[0]
