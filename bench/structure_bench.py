"""The structure-grounded generator on every corpus document (and the sample policy), beside a
chunk-level baseline from the same run.

Per document: articles found, the share yielding at least one kept item (target ≥ 95%), kept items per
kind, items rejected by the checks (by reason), duplicate questions (target 0), questions naming their
part and article, mean character-bigram Jaccard of distractors with the correct answer, and seconds.
The baseline is what a generator without the document's structure can do: one "what does this
section say" item per chunk, answered with the chunk's first sentence and checked the same way.
For corpus 01, coverage of the 215 human-style questions: the share of the articles their answers cite
that have at least one kept item (most of the 215 cite none; the count is printed).

    .venv/bin/python bench/structure_bench.py
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter

from domainlm.chunking import StructureChunker
from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm.generation import SampleGenerator
from domainlm.generation.clauses import book_of, sentences
from domainlm.generation.coverage import coverage, question_set_coverage
from domainlm.generation.structure import StructureItems
from domainlm.paths import corpus_dir, sample_policy
from domainlm.records import Chunk, Sample, SampleKind

DOCUMENTS = ["05_kb_silson_suspend_resume_rider_4p.pdf", "13_meritz_pet_maum_terms_47p.pdf",
             "01_kb_personal_auto_terms_20250101.pdf", "10_carrot_travel_terms.pdf",
             "14_meritz_petpermint_puppy_family_terms.pdf"]  # fmt: skip


def baseline(chunks: list[Chunk]) -> list[Sample]:
    """One item per chunk from its section title and first sentence, through the same checks."""
    from domainlm.checks import AnswerChecks

    checks, kept = AnswerChecks(), []
    for c in chunks:
        first = next(iter(sentences(c.text.replace("\n", " "))), "")
        question = f"{c.section or '이 부분'}은(는) 무엇을 정하고 있습니까?"
        if first and checks.check_answer(question, first, first, c.text, c.section, c.document_articles).ok:
            kept.append(Sample(id=c.id, kind=SampleKind.QA, instruction=c.section, output=first,
                               provenance={"doc_id": c.doc_id, "source": c.source, "pages": c.pages,
                                           "section": c.section, "chunk_id": c.id, "teacher_model": "baseline"}))  # fmt: skip
    return kept


def names_part_and_article(sample: Sample) -> bool:
    book = book_of(sample.provenance.section)
    return bool(re.search(r"제\d+조(?:의\d+)?\(", sample.instruction)) and (
        not book or sample.instruction.startswith(book)
    )


def main() -> None:
    paths = [sample_policy()] + [corpus_dir() / d for d in DOCUMENTS if (corpus_dir() / d).exists()]
    header = (f"{'document':44} {'articles':>8} {'covered':>8} {'baseline':>8} {'qa':>5} {'mcq':>5} {'rejected':>8} "
              f"{'dup Q':>5} {'named':>6} {'overlap':>7} {'s':>5}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for path in paths:
        funnel = Funnel()
        pages = list(PdfExtractor().run([str(path)], funnel, progress=False))
        chunks = list(StructureChunker().run(pages, funnel))
        started = time.monotonic()
        items = StructureItems()
        items.prepare(chunks)
        gen = Funnel()
        samples = list(SampleGenerator(None, structure=items).run(chunks, gen))
        seconds = time.monotonic() - started
        cov = coverage(chunks, samples)
        base = coverage(chunks, baseline(chunks))
        kinds = Counter(s.kind.value for s in samples)
        rejected = gen.summary()["generate"]["rejected"]
        named = sum(names_part_and_article(s) for s in samples) / max(1, len(samples))
        print(f"{path.name[:44]:44} {cov['articles']:>8} {cov['article_share']:>8.1%} {base['article_share']:>8.1%} "
              f"{kinds['qa']:>5} {kinds['mcq']:>5} {sum(rejected.values()):>8} {cov['duplicate_questions']:>5} "
              f"{named:>6.1%} {cov['mean_distractor_overlap']:>7.3f} {seconds:>5.1f}")  # fmt: skip
        if rejected:
            print(f"{'':44}   rejected: {dict(rejected)}")
        if path.name.startswith("01_"):
            questions = json.loads((corpus_dir() / "01_auto_terms_qa_215.json").read_text(encoding="utf-8"))
            qc = question_set_coverage(questions, samples, "보통약관")
            cited = sum(bool(re.search(r"제\s*\d+\s*조", q["answer"])) for q in questions)
            print(f"{'':44}   215 questions: {cited} cite an article; {qc['articles_with_items']} of "
                  f"{qc['articles_referenced']} cited articles have a kept item ({(qc['share'] or 0):.0%})")  # fmt: skip


if __name__ == "__main__":
    main()
