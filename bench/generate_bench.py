"""Generation throughput: domainlm's generate stage against a plain concurrent client, same vLLM server.

Both send the same requests (prompt template, JSON schema, sampling settings) for the same chunks. The
plain client is asyncio + the OpenAI SDK with a semaphore, run at several concurrency levels to find
the server's saturation; the stage runs at its own setting. Items/s counts items in responses that
parse; the stage also runs its faithfulness check (a tiny random teacher fails it, which is expected
and not what this measures).

    .venv/bin/python bench/generate_bench.py [--chunks 48] [--model DIR] [--base-url URL --model-name M]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import openai

from domainlm.chunking import StructureChunker
from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm.generation import GenerateSettings, SampleGenerator
from domainlm.paths import corpus_dir, sample_policy
from domainlm.records import Chunk
from domainlm.teacher import TeacherClient, TeacherSettings
from domainlm.tinymodel import build_tiny_model
from domainlm.vllm_server import VllmServer


def corpus_chunks(limit: int) -> list[Chunk]:
    """Chunks of corpus 01 (the sample policy where the corpus is absent), repeated up to `limit`."""
    pdf = next(iter(sorted(corpus_dir().glob("01_*.pdf"))), sample_policy())
    pages = PdfExtractor().run([str(pdf)], Funnel())
    chunks = list(StructureChunker().run(pages, Funnel()))
    return (chunks * (1 + limit // max(1, len(chunks))))[:limit]


def count_items(content: str) -> int | None:
    try:
        data = json.loads(
            content, strict=False
        )  # as the stage parses: raw control characters in strings are tolerated
    except json.JSONDecodeError:
        return None
    return len(data.get("qa", [])) + len(data.get("mcq", []))


async def plain_client(
    settings: TeacherSettings, generator: SampleGenerator, chunks: list[Chunk], concurrency: int
) -> tuple[float, int, int]:
    """Returns (seconds, items, responses that did not parse)."""
    client = openai.AsyncOpenAI(base_url=settings.base_url, api_key="EMPTY", max_retries=4, timeout=600)
    gate = asyncio.Semaphore(concurrency)
    items, bad = 0, 0

    async def one(chunk: Chunk) -> None:
        nonlocal items, bad
        messages = generator.messages(chunk)
        async with gate:
            r = await client.chat.completions.create(  # type: ignore[call-overload]
                model=settings.model,
                messages=messages,
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "policy_items", "schema": generator.schema, "strict": True},
                },
            )
        n = count_items(r.choices[0].message.content or "")
        if n is None or r.choices[0].finish_reason == "length":
            bad += 1
        else:
            items += n

    start = time.perf_counter()
    await asyncio.gather(*(one(c) for c in chunks))
    seconds = time.perf_counter() - start
    await client.close()
    return seconds, items, bad


def ours(
    settings: TeacherSettings, chunks: list[Chunk], gen: GenerateSettings
) -> tuple[float, int, int, Funnel]:
    generator = SampleGenerator(TeacherClient(settings), gen)
    funnel = Funnel()
    start = time.perf_counter()
    results = list(generator.results(chunks))
    seconds = time.perf_counter() - start
    # Response-level failures name the chunk; item-level ones (kept or not) name "chunk:qa0" etc.
    bad = sum(1 for r in results if r.transient or any(":" not in rid for _, rid, _ in r.rejections))
    items = sum(len(r.samples) + sum(1 for _, rid, _ in r.rejections if ":" in rid) for r in results)
    for r in results:
        list(SampleGenerator.account(r, funnel))
    return seconds, items, bad, funnel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=64)
    ap.add_argument("--qa", type=int, default=2)
    ap.add_argument("--mcq", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=3000)
    ap.add_argument("--plain-levels", default="32,64", help="requests in flight, for both clients")
    ap.add_argument("--model", type=Path, help="model directory to serve [default: build a tiny one]")
    ap.add_argument("--base-url", help="use a running server instead of starting one")
    ap.add_argument("--model-name", default="bench-tiny")
    args = ap.parse_args()

    chunks = corpus_chunks(args.chunks)
    gen = GenerateSettings(qa_per_chunk=args.qa, mcq_per_chunk=args.mcq)
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        base_url = args.base_url
        if base_url is None:
            model = args.model or build_tiny_model(Path(tmp) / "tiny", (c.text for c in chunks))
            print(f"starting vLLM (CPU) with {model} ...", flush=True)
            server = VllmServer(model, args.model_name).start()
            base_url = server.base_url
        try:
            settings = TeacherSettings(
                base_url=base_url,
                model=args.model_name,
                concurrency=32,
                max_tokens=args.max_tokens,
                # Greedy, so both clients do the same work. (A per-request seed would do it too, but it
                # crashes vLLM's CPU worker: "CPU Generator does not use offset".)
                temperature=0.0,
            )
            generator = SampleGenerator(TeacherClient(settings), gen)
            asyncio.run(plain_client(settings, generator, chunks[:4], 4))  # warm-up: compile, caches
            rows, plain, stage = [], [], []
            for level in [int(x) for x in args.plain_levels.split(",")]:
                sec, items, bad = asyncio.run(plain_client(settings, generator, chunks, level))
                rows.append((f"plain client, {level} in flight", sec, items, bad))
                plain.append(rows[-1])
                at_level = settings.model_copy(update={"concurrency": level})
                sec, items, bad, funnel = ours(at_level, chunks, gen)
                rows.append((f"domainlm generate, {level} in flight", sec, items, bad))
                stage.append(rows[-1])
        finally:
            if server is not None:
                server.stop()

    print(
        f"\n{len(chunks)} chunks, {args.qa} QA + {args.mcq} MCQ requested per chunk, max_tokens {args.max_tokens}\n"
    )
    print(f"{'client':34} {'seconds':>8} {'items':>6} {'items/s':>8} {'parsed':>8}")
    for name, sec, items, bad in rows:
        print(f"{name:34} {sec:8.1f} {items:6d} {items / sec:8.2f} {(len(chunks) - bad) / len(chunks):8.1%}")
    best = max(plain, key=lambda r: r[2] / r[1])
    ours_best = max(stage, key=lambda r: r[2] / r[1])
    ratio = (ours_best[2] / ours_best[1]) / (best[2] / best[1])
    print(
        f"\nbest domainlm ({ours_best[0]}) / plain client at saturation ({best[0]}): {ratio:.2f}  (target >= 0.90)"
    )
    print(f"stage funnel: {json.dumps(funnel.summary()['generate'], ensure_ascii=False)}")


if __name__ == "__main__":
    main()
