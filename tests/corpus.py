"""Where the test data lives: the shared corpus and the project's sample policy."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLE_POLICY = ROOT / "examples" / "sample-policy" / "domainlm-sample-policy.pdf"


def corpus_pdf(prefix: str) -> Path:
    """A corpus PDF by its number prefix; the test skips, saying why, where the corpus is absent."""
    found = sorted(CORPUS.glob(f"{prefix}_*.pdf"))
    if not found:
        pytest.skip(f"corpus file {prefix}_*.pdf not found under {CORPUS}")
    return found[0]
