"""Fixtures for the servicer tests: real records from the project's sample policy."""

from __future__ import annotations

import pytest

from corpus import SAMPLE_POLICY
from domainlm.chunking import ChunkSettings, StructureChunker
from domainlm.extract import ExtractSettings, PdfExtractor
from domainlm.funnel import Funnel
from domainlm.records import Chunk


@pytest.fixture(scope="session")
def policy_chunks() -> list[Chunk]:
    """The sample policy's chunks (a small text-layer PDF: well under a second)."""
    if not SAMPLE_POLICY.exists():
        pytest.skip(f"{SAMPLE_POLICY} not found")
    funnel = Funnel()
    pages = list(PdfExtractor(ExtractSettings()).run([str(SAMPLE_POLICY)], funnel))
    return list(StructureChunker(ChunkSettings()).run(pages, funnel))
