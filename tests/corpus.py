"""Where the test data lives: the shared corpus and the project's sample policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainlm.paths import corpus_dir, project_root, sample_policy

ROOT = project_root()
CORPUS = corpus_dir()
SAMPLE_POLICY = sample_policy()


def corpus_pdf(prefix: str) -> Path:
    """A corpus PDF by its number prefix; the test skips, saying why, where the corpus is absent."""
    found = sorted(CORPUS.glob(f"{prefix}_*.pdf"))
    if not found:
        pytest.skip(f"corpus file {prefix}_*.pdf not found under {CORPUS}")
    return found[0]
