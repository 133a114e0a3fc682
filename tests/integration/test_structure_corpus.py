"""The structure-grounded generator on every corpus document: at least 95% of articles yield a kept
item, no question is asked twice, every question names its article (and its part, where the document
names one), every item passed the checks, and distractors share little with the correct answer."""

from __future__ import annotations

import re

import pytest

from corpus import CORPUS
from domainlm.chunking import StructureChunker
from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm.generation import SampleGenerator
from domainlm.generation.clauses import book_of
from domainlm.generation.coverage import coverage
from domainlm.generation.structure import StructureItems

pytestmark = pytest.mark.integration
DOCUMENTS = ["01", "05", "10", "13", "14"]


@pytest.mark.parametrize("prefix", DOCUMENTS)
def test_structure_items_cover_the_document(prefix: str) -> None:
    found = sorted(CORPUS.glob(f"{prefix}_*.pdf"))
    if not found:
        pytest.skip(f"corpus file {prefix}_*.pdf not found under {CORPUS}")
    funnel = Funnel()
    pages = list(PdfExtractor().run([str(found[0])], funnel, progress=False))
    chunks = list(StructureChunker().run(pages, funnel))
    items = StructureItems()
    items.prepare(chunks)
    generated = Funnel()
    samples = list(SampleGenerator(None, structure=items).run(chunks, generated))
    cov = coverage(chunks, samples)
    assert cov["article_share"] >= 0.95, cov
    assert cov["duplicate_questions"] == 0
    assert cov["mean_distractor_overlap"] < 0.2
    row = generated.summary()["generate"]
    # what the checks refuse is counted with its reason, and it is little
    assert sum(row["rejected"].values()) <= 0.03 * (row["out"] + sum(row["rejected"].values())), row
    for s in samples:
        assert re.search(r"제\d+조(?:의\d+)?\(", s.instruction), s.instruction
        if book := book_of(s.provenance.section):
            assert s.instruction.startswith(book), (s.instruction, s.provenance.section)
