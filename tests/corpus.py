"""Where the test data lives: the shared corpus and the project's sample policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainlm.paths import corpus_dir, project_root, sample_policy
from domainlm.records import Page

ROOT = project_root()
CORPUS = corpus_dir()
SAMPLE_POLICY = sample_policy()


def corpus_pdf(prefix: str) -> Path:
    """A corpus PDF by its number prefix; the test skips, saying why, where the corpus is absent."""
    found = sorted(CORPUS.glob(f"{prefix}_*.pdf"))
    if not found:
        pytest.skip(f"corpus file {prefix}_*.pdf not found under {CORPUS}")
    return found[0]


SAMPLE_TEXT = (ROOT / "examples" / "sample-policy.txt").read_text(encoding="utf-8")


def text_pages(text: str = SAMPLE_TEXT, per_page: int = 40) -> list[Page]:
    """A text cut into pages of `per_page` lines, as extraction would give it (the sample policy's)."""
    lines = text.splitlines()
    return [
        Page(
            source="p.pdf",
            doc_id="d",
            page=i // per_page + 1,
            text="\n".join(lines[i : i + per_page]),
            method="text-layer",
        )
        for i in range(0, len(lines), per_page)
    ]
