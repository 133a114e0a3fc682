"""The one wiring module: a batch of unique samples → concurrent evolutions → evolved samples.

Samples at the configured depth (and MCQ items) are consumed without output, which ends the
samples.unique ⇄ samples.evolved loop.
"""

from __future__ import annotations

from kafka.consumer.fetcher import ConsumerRecord

from domainlm.evolution import InstructionEvolver
from domainlm.records import Rejection, Sample
from domainlm_chassis.chunkfeed import ChunkFeed
from domainlm_chassis.worker import (
    BatchHandler,
    DependencyUnavailable,
    Output,
    PoisonMessage,
    outputs_of,
    parse_records,
)


def sample_batch_handler(
    evolver: InstructionEvolver, chunks: ChunkFeed, rejections_topic: str, chunk_wait_s: float
) -> BatchHandler:
    def handle(records: list[ConsumerRecord]) -> list[list[Output] | Exception]:
        parsed = parse_records(records, Sample, "invalid-sample")
        parents = list({s.id: s for s in parsed if isinstance(s, Sample) and evolver.evolvable(s)}.values())
        missing = chunks.wait_for({p.provenance.chunk_id for p in parents}, chunk_wait_s)
        ready = [p for p in parents if p.provenance.chunk_id not in missing]
        results = {r.parent_id: r for r in evolver.results(ready)}
        out: list[list[Output] | Exception] = []
        for item in parsed:
            if isinstance(item, PoisonMessage):
                out.append(item)
            elif not evolver.evolvable(item):
                out.append([])
            elif item.provenance.chunk_id in missing:  # retried with backoff, then the DLQ with this reason
                out.append(
                    RuntimeError(f"source-chunk-missing: {item.provenance.chunk_id} not on the chunks topic")
                )
            elif (result := results[item.id]).transient:
                out.append(DependencyUnavailable(f"teacher-unavailable: {result.rejections[0]}"))
            else:
                rejected = Rejection.many(evolver.name, result.rejections)
                outputs = outputs_of(result.samples, rejected, rejections_topic)
                out.append(outputs)
        return out

    return handle
