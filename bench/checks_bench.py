"""Wrong answers caught, right answers kept: the lexical check alone against the LLM-free checks.

The labelled set (domainlm.checks.labelled) is built from each document's own sentences: correct items
(restated sentences, full list answers, multiple-choice items with false distractors) and corrupted
copies, one family per way a teacher goes wrong on 약관. For every family the table gives the share of
corrupted items rejected ("caught"); the "correct" row gives the share of correct items rejected (false
rejections). Columns, all from this run over the same items:

- lexical: the support check every item had before (answer and evidence bigrams found in the chunk);
- LLM-free (kiwi): every check of domainlm.checks, polarity read with Kiwi's morphology (the default);
- LLM-free (regex): the same checks with a suffix-pattern predicate reader, to show what Kiwi adds;
- judge plumbing: the judge stage driven by a scripted fake (a tiny model cannot judge): the share of
  items whose stored verdict agrees with the script. It proves the request/verdict path, not accuracy.

    .venv/bin/python bench/checks_bench.py [--per-chunk 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from domainlm.checks import CHECKS, AnswerChecks, CheckSettings
from domainlm.checks.audit import AuditItem, audit
from domainlm.checks.judge import AnswerJudge
from domainlm.checks.labelled import FAMILIES, LabelledItem, build, rejection_rates
from domainlm.checks.support import FaithfulnessCheck, ItemChecks
from domainlm.chunking import StructureChunker
from domainlm.extract import PdfExtractor
from domainlm.extract.documents import sha256_of
from domainlm.fakes import ScriptedJudge
from domainlm.funnel import Funnel
from domainlm.paths import corpus_dir

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [
    "01_kb_personal_auto_terms_20250101.pdf",
    "05_kb_silson_suspend_resume_rider_4p.pdf",
    "10_carrot_travel_terms.pdf",
    "13_meritz_pet_maum_terms_47p.pdf",
]


def documents() -> list[Path]:
    found = [ROOT / "examples/sample-policy/domainlm-sample-policy.pdf"]
    corpus = corpus_dir()
    if corpus is not None:
        found += [corpus / name for name in DOCUMENTS if (corpus / name).exists()]
    return found


def labelled_set(paths: list[Path], per_chunk: int, seed: int) -> list[LabelledItem]:
    funnel = Funnel()
    pages = PdfExtractor().run([str(p) for p in paths], funnel, progress=False)
    return build(StructureChunker().run(pages, funnel), seed=seed, per_chunk=per_chunk)


def judge_agreement(items: list[LabelledItem]) -> dict[str, tuple[int, float]]:
    qa = [it for it in items if it.kind == "qa"]
    judge = AnswerJudge(ScriptedJudge({(it.question, it.answer) for it in qa if it.corrupted}))
    rows = [
        AuditItem(id=str(n), chunk=it.chunk, question=it.question, answer=it.answer)
        for n, it in enumerate(qa)
    ]
    # Only the judge's verdicts: every other check is skipped so the column isolates the judge path.
    no_checks = AnswerChecks(CheckSettings(skip=[c for c in CHECKS if c != "support"]))
    out: dict[str, list[bool]] = {}
    for it, verdict in zip(qa, audit(rows, no_checks, judge), strict=True):
        doubted = any(c.name == "judge-entailed" and not c.ok for c in verdict.checks)
        out.setdefault(it.family, []).append(doubted == it.corrupted)
    return {f: (len(v), sum(v) / len(v)) for f, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-chunk", type=int, default=2, help="sentences drawn per chunk")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    paths = documents()
    items = labelled_set(paths, args.per_chunk, args.seed)
    print(f"labelled set: {len(items)} items from {len(paths)} documents: {', '.join(p.name for p in paths)}")
    columns: dict[str, ItemChecks] = {
        "lexical": FaithfulnessCheck(),
        "LLM-free (kiwi)": AnswerChecks(),
        "LLM-free (regex)": AnswerChecks(CheckSettings(morphology="regex")),
    }
    rates, seconds = {}, {}
    for name, checker in columns.items():
        start = time.perf_counter()
        rates[name] = rejection_rates(checker, items)
        seconds[name] = time.perf_counter() - start
    judge = judge_agreement(items)

    header = (
        f"{'family':18} {'items':>6} " + " ".join(f"{c:>17}" for c in columns) + f" {'judge plumbing':>15}"
    )
    print("\nshare rejected: caught for a corruption family, false rejections for `correct`\n")
    print(header)
    print("-" * len(header))
    for family in ("correct", *FAMILIES):
        n = rates["lexical"].get(family, (0, 0.0))[0]
        if not n:
            continue
        cells = " ".join(f"{rates[c][family][1]:>17.1%}" for c in columns)
        agree = f"{judge[family][1]:>15.1%}" if family in judge else f"{'(mcq)':>15}"
        print(f"{family:18} {n:>6} {cells} {agree}")
    print(f"{'items/s':18} {'':>6} " + " ".join(f"{len(items) / seconds[c]:>17.0f}" for c in columns))
    print(
        "\njudge plumbing: agreement of the stored judge-entailed verdict with a scripted fake (not accuracy)"
    )

    per_doc: dict[str, list[LabelledItem]] = {}
    for it in items:
        per_doc.setdefault(it.doc, []).append(it)
    names = {sha256_of(p): p.name[:40] for p in paths}
    print("\nper document, LLM-free (kiwi): false rejections / caught over all corruptions")
    for doc, group in per_doc.items():
        r = rejection_rates(columns["LLM-free (kiwi)"], group)
        wrong = [(n, share) for f, (n, share) in r.items() if f != "correct"]
        caught = sum(n * s for n, s in wrong) / max(1, sum(n for n, _ in wrong))
        n_ok, fp = r.get("correct", (0, 0.0))
        print(
            f"  {names[doc]:40}  correct {n_ok:>4}  false rejections {fp:>6.1%}   corrupted {sum(n for n, _ in wrong):>5}  caught {caught:>6.1%}"
        )


if __name__ == "__main__":
    main()
