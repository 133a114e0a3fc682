"""Documents/s through the services over Kafka vs the one-process runner, same input, same teacher.

Both paths use the same real vLLM server (a tiny local model, greedy, so both do the same work) and
the same stage code. The services run as `domainlm stack up` starts them: separate processes, the real
Kafka broker, Redis, Postgres. A path's time runs from handing over the PDFs to the last chunk being
accounted for (every chunk generated for, or rejected with a reason); the runner's is its whole run.
The services path is then timed with two replicas of the generator, the busiest stage.

    .venv/bin/python bench/services_bench.py [--docs PDF ...] [--model DIR]

With a tiny random teacher nothing passes the faithfulness check, so review, dedup and evolve see no
samples on either path; the figures measure extraction, chunking, generation and the transport.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from domainlm.extract import PdfExtractor
from domainlm.funnel import Funnel
from domainlm.paths import corpus_dir, sample_policy
from domainlm.runner import PipelineRun
from domainlm.teacher import TeacherClient, TeacherSettings
from domainlm.tinymodel import build_tiny_model
from domainlm.vllm_server import VllmServer
from domainlm_chassis import stack
from domainlm_chassis.submit import submit


def default_docs() -> list[Path]:
    return [sample_policy(), *sorted(corpus_dir().glob("05_*.pdf"))]


def time_runner(docs: list[Path], teacher: TeacherSettings, out: Path) -> tuple[float, int]:
    run = PipelineRun(docs, out, teacher=TeacherClient(teacher), progress=False)
    started = time.perf_counter()
    result = run.run()
    return time.perf_counter() - started, result.counts["chunks"]


def time_services(
    docs: list[Path], teacher: TeacherSettings, root: Path, generators: int
) -> tuple[float, int]:
    from kafka import KafkaConsumer

    env = {
        "DOMAINLM_GENERATOR_TEACHER__TEMPERATURE": "0",
        "DOMAINLM_GENERATOR_TEACHER__MAX_TOKENS": str(teacher.max_tokens),
        "DOMAINLM_GENERATOR_TEACHER__CONCURRENCY": str(teacher.concurrency),
    }
    state = stack.up(
        root, teacher.base_url, teacher.model, {"generator": generators}, env=env, say=lambda _: None
    )
    try:
        bootstrap = state["bootstrap"]
        consumer = KafkaConsumer("chunks", "samples.generated", "rejections", bootstrap_servers=bootstrap,
                                 auto_offset_reset="earliest", isolation_level="read_committed")  # fmt: skip
        consumer.poll(timeout_ms=1000)  # joins before the clock starts
        started = time.perf_counter()
        submit(docs, bootstrap=bootstrap)
        chunks: set[str] = set()
        done: set[str] = set()
        while time.perf_counter() - started < 900:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    key = r.key.decode()
                    if r.topic == "chunks":
                        chunks.add(key)
                    elif r.topic == "rejections":
                        done.add(key.split(":")[0])
                    else:
                        done.add(json.loads(r.value)["provenance"]["chunk_id"])
            if chunks and chunks <= done:
                break
        elapsed = time.perf_counter() - started
        consumer.close()
        if not chunks <= done:
            raise RuntimeError(f"{len(chunks - done)} chunks never generated for")
        return elapsed, len(chunks)
    finally:
        stack.down(root, say=lambda _: None)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--docs", nargs="*", type=Path, help="PDFs (default: the sample policy and corpus 05)"
    )
    parser.add_argument("--model", type=Path, help="a model directory (default: build a tiny one)")
    args = parser.parse_args()
    docs = args.docs or default_docs()
    with tempfile.TemporaryDirectory(prefix="domainlm-services-bench-") as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            model = build_tiny_model(
                work / "tiny", [p.text for p in PdfExtractor().run([str(sample_policy())], Funnel())]
            )
        with VllmServer(model, "tiny-teacher", log_path=work / "vllm.log", enforce_eager=True) as server:
            teacher = TeacherSettings(base_url=server.base_url, model="tiny-teacher", temperature=0.0,
                                      max_tokens=2560, concurrency=16)  # fmt: skip
            rows = []
            t, n = time_runner(docs, teacher, work / "run")
            rows.append(("one process (domainlm run)", t, n))
            for generators in (1, 2):
                t, n = time_services(docs, teacher, work / f"stack-{generators}", generators)
                rows.append((f"services over Kafka, {generators} generator replica(s)", t, n))
    base = rows[0][1]
    print(f"\n{len(docs)} documents: {', '.join(d.name for d in docs)}")
    print(f"{'path':<46} {'seconds':>8} {'docs/s':>8} {'chunks':>7} {'vs one process':>15}")
    for name, t, n in rows:
        print(f"{name:<46} {t:8.1f} {len(docs) / t:8.3f} {n:7d} {t / base:14.2f}x")


if __name__ == "__main__":
    main()
