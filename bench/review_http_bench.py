"""Latency of the review API with 10,000 items in the store: the queue (filtered, sorted, paged), one
item, and a decision, over real HTTP (uvicorn, httpx), on SQLite and on PostgreSQL.

Baseline, from the same run: the queue answered by reading every item and filtering in Python (what the
store did before its filter columns), over the same store.

    .venv/bin/python bench/review_http_bench.py [--items 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reviewweb import ADMIN, http_settings, serving

from domainlm.records import Provenance, Sample, SampleKind
from domainlm.review import ReviewStore
from domainlm_chassis.stores import PostgresServer
from domainlm_review.web.app import Wiring

SECTIONS = [f"제{n}관 > 제{m}조(조항 {m})" for n in range(1, 9) for m in range(1, 13)]


def fill(store: ReviewStore, n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    ids = []
    for i in range(n):
        kind = rng.choice([SampleKind.QA, SampleKind.QA, SampleKind.MCQ])
        q, a = (
            f"질문 {i}: 보험금 지급 사유 {rng.randint(1, 500)}은 무엇입니까?",
            f"답 {i}: 회사는 {rng.randint(1, 90)}일 이내에 지급합니다.",
        )
        prov = Provenance(doc_id=f"{i % 40:064x}", source=f"policy-{i % 40}.pdf", pages=[1 + i % 30],
                          section=rng.choice(SECTIONS), chunk_id=f"c{i // 4}", teacher_model="teacher-a")  # fmt: skip
        choices = [a, "틀린 답 1", "틀린 답 2", "틀린 답 3"] if kind == SampleKind.MCQ else None
        sample = Sample(id=Sample.make_id(prov.chunk_id, kind.value, q, a), kind=kind, instruction=q, output=a,
                        choices=choices, answer_index=0 if choices else None, provenance=prov,
                        scores={"answer_support": round(rng.random(), 3)})  # fmt: skip
        store.submit(sample, "human")
        ids.append(sample.id)
    return ids


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    return statistics.median(seconds) * 1000, seconds[int(0.95 * (len(seconds) - 1))] * 1000


def scan_queue(store: ReviewStore) -> list[Sample]:
    """The baseline: every item read and filtered in Python, sorted by score, first page."""
    hits = [
        s
        for s in store.items()
        if s.review == "pending" and s.kind == "qa" and "제3관" in s.provenance.section
    ]
    return sorted(hits, key=lambda s: -s.scores.get("answer_support", 0.0))[:50]


def bench(name: str, store: ReviewStore, n: int, repeat: int) -> None:
    start = time.perf_counter()
    ids = fill(store, n)
    print(f"{name}: {n} items stored in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    with serving(Wiring(store=store, settings=http_settings())) as url:
        web = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
        queue: dict[str, str | int] = {
            "state": "pending",
            "kind": "qa",
            "section": "제3관",
            "sort": "score",
            "order": "desc",
            "limit": 50,
        }
        rows = {
            "queue: first page, no filter": lambda: web.get("/api/items", params={"limit": 50}),
            "queue: state+kind+section, by score": lambda: web.get("/api/items", params=queue),
            "queue: text search": lambda: web.get("/api/items", params={"q": "지급 사유 42", "limit": 50}),
            "queue: page 100": lambda: web.get("/api/items", params={"offset": 5000, "limit": 50}),
            "one item with history": lambda: web.get(f"/api/items/{random.choice(ids)}"),
            "counts": lambda: web.get("/api/counts"),
        }
        for label, call in rows.items():
            assert call().status_code == 200
            p50, p95 = timed(call, repeat)
            print(f"| {name} | {label} | {p50:.1f} | {p95:.1f} |")
        pending = iter(ids)

        def decide() -> None:
            item = next(pending)
            version = web.get(f"/api/items/{item}").json()["version"]
            response = web.post(f"/api/items/{item}/decision", json={"action": "approve", "version": version})
            assert response.status_code == 200, response.text

        def decide_only() -> None:
            item = next(pending)
            response = web.post(f"/api/items/{item}/decision", json={"action": "approve", "version": 0})
            assert response.status_code == 200, response.text

        p50, p95 = timed(decide_only, repeat)
        print(f"| {name} | decide (approve) | {p50:.1f} | {p95:.1f} |")
        p50, p95 = timed(decide, max(1, repeat // 2))
        print(f"| {name} | open + decide | {p50:.1f} | {p95:.1f} |")
    p50, p95 = timed(lambda: scan_queue(store), max(3, repeat // 20))
    print(f"| {name} | baseline: queue by scanning every item in Python | {p50:.1f} | {p95:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per route")
    args = parser.parse_args()
    print("| store | route | p50 ms | p95 ms |\n|---|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = ReviewStore(Path(tmp) / "review.sqlite")
        bench("SQLite", sqlite, args.items, args.requests)
        sqlite.close()
    with PostgresServer() as pg:
        store = ReviewStore(pg.url)
        bench("PostgreSQL", store, args.items, args.requests)
        store.close()


if __name__ == "__main__":
    main()
