"""Near-dedup on a labelled set: domainlm's index against the naive datasketch loop and rensa.

The labelled set (domainlm.dedup.labelled) is built from the corpus PDFs: distinct passages plus copies
with known edits, shuffled. Every method gets the same rows in the same order, the same normalisation
(``normalise_many``) and the same character n-grams, and is timed over the whole process: normalising,
shingling, sketching, LSH and (for domainlm) exact verification. Building the set is not timed. Each
method runs once on a few rows first (imports, lookup tables), then ``--repeat`` times, interleaved;
the table shows the median wall time and the CPU time of that run (rensa may use several threads).

- domainlm: ``NearDuplicateIndex.add_batch`` in batches, exact Jaccard before a row is dropped.
- datasketch naive: one ``MinHash`` per row (its default sha1 hash over the same n-grams), query a
  ``MinHashLSH`` tuned for the threshold, drop the row on any candidate, else insert it.
- rensa: its documented ``RMinHashDeduplicator(threshold, num_perm, use_lsh=True).add_pairs`` over the
  same n-grams; it checks candidates by estimated (sketch) similarity.

    .venv/bin/python bench/dedup_bench.py [--rows 10000] [--repeat 3] [--ngram 4 --num-perm 64 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from datasketch import MinHash, MinHashLSH

from domainlm.dedup import MinhashConfig, NearDuplicateIndex
from domainlm.dedup.labelled import build_labelled, passages, pdf_texts, score
from domainlm.dedup.normalise import normalise_many
from domainlm.paths import corpus_dir

CORPUS = corpus_dir()

Dedup = Callable[[Sequence[str], Sequence[str], MinhashConfig], list[str]]


def ours(keys: Sequence[str], texts: Sequence[str], config: MinhashConfig, batch: int = 4096) -> list[str]:
    index = NearDuplicateIndex(config)
    kept: list[str] = []
    for i in range(0, len(keys), batch):
        found = index.add_batch(keys[i : i + batch], texts[i : i + batch])
        kept.extend(k for k, m in zip(keys[i : i + batch], found, strict=True) if m is None)
    return kept


def ngram_lists(texts: Sequence[str], n: int) -> list[list[str]]:
    return [[s[i : i + n] for i in range(max(1, len(s) - n + 1))] for s in normalise_many(texts)]


def naive(keys: Sequence[str], texts: Sequence[str], config: MinhashConfig) -> list[str]:
    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    kept = []
    for key, grams in zip(keys, ngram_lists(texts, config.ngram), strict=True):
        m = MinHash(num_perm=config.num_perm, seed=config.seed)
        m.update_batch([g.encode("utf-8") for g in grams])
        if not lsh.query(m):
            lsh.insert(key, m)
            kept.append(key)
    return kept


def rensa(keys: Sequence[str], texts: Sequence[str], config: MinhashConfig) -> list[str]:
    from rensa import RMinHashDeduplicator

    dedup = RMinHashDeduplicator(threshold=config.threshold, num_perm=config.num_perm, use_lsh=True)
    keep = dedup.add_pairs(zip(keys, ngram_lists(texts, config.ngram), strict=True))
    return [k for k, kept in zip(keys, keep, strict=True) if kept]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0, help="seed of the labelled set")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--methods", default="domainlm,naive,rensa")
    ap.add_argument("--ngram", type=int)
    ap.add_argument("--num-perm", type=int)
    ap.add_argument("--threshold", type=float)
    ap.add_argument("--bands", type=int)
    ap.add_argument("--band-rows", dest="rows_per_band", type=int, help="MinHash values per LSH band")
    args = ap.parse_args()

    names = {"ngram": "ngram", "num_perm": "num_perm", "threshold": "threshold", "bands": "bands"}
    names["rows_per_band"] = "rows"
    overrides = {field: getattr(args, arg) for arg, field in names.items() if getattr(args, arg) is not None}
    config = MinhashConfig(**overrides)
    pdfs = sorted(args.corpus.glob("*.pdf"))
    if not pdfs:
        raise SystemExit(f"no PDFs under {args.corpus}")
    labelled = build_labelled(passages(pdf_texts(pdfs)), args.rows, seed=args.seed)
    rows = labelled.rows
    keys, texts = [r["id"] for r in rows], [r["text"] for r in rows]
    truth = score(rows, keys)
    print(
        f"labelled set: {len(rows)} rows from {len(pdfs)} PDFs, {truth.clusters} distinct items "
        f"({labelled.boilerplate} sharing boilerplate; {labelled.dropped_similar} passages dropped as too "
        f"similar), {truth.redundant} redundant copies"
    )
    print(f"config: {config!r}; LSH (bands, rows) = {config.lsh_params()}\n")

    methods: dict[str, Dedup] = {"domainlm": ours, "naive": naive, "rensa": rensa}
    chosen = {name: methods[name] for name in args.methods.split(",")}
    runs: dict[str, list[tuple[float, float, list[str]]]] = {name: [] for name in chosen}
    for fn in chosen.values():
        fn(keys[:200], texts[:200], config)
    for _ in range(args.repeat):
        for name, fn in chosen.items():
            wall, cpu = time.perf_counter(), time.process_time()
            kept = fn(keys, texts, config)
            runs[name].append((time.perf_counter() - wall, time.process_time() - cpu, kept))

    print(f"{'method':<18}{'seconds':>9}{'cpu s':>8}{'rows/s':>10}{'kept':>7}{'removed':>10}{'lost':>12}")
    for name, results in runs.items():
        wall, cpu, kept = sorted(results, key=lambda r: r[0])[len(results) // 2]
        s = score(rows, kept)
        print(
            f"{name:<18}{wall:>9.3f}{cpu:>8.3f}{len(rows) / wall:>10.0f}{s.kept:>7}"
            f"{s.removed_share:>10.2%}{s.lost_share:>7.2%} ({s.lost})"
        )
        spread = [r[0] for r in results]
        if len(spread) > 1:
            print(
                f"{'':<18}  runs: {', '.join(f'{w:.3f}' for w in spread)} (median {statistics.median(spread):.3f})"
            )
    print("\nremoved: share of redundant copies removed; lost: share of distinct items with no row kept")


if __name__ == "__main__":
    main()
