"""The one wiring module: a batch of chunk messages → concurrent teacher calls → sample messages."""

from __future__ import annotations

from kafka.consumer.fetcher import ConsumerRecord

from domainlm.generation import SampleGenerator
from domainlm.records import Chunk, Rejection
from domainlm_chassis.worker import (
    BatchHandler,
    DependencyUnavailable,
    Output,
    PoisonMessage,
    outputs_of,
    parse_records,
)


def chunk_batch_handler(generator: SampleGenerator, rejections_topic: str) -> BatchHandler:
    def handle(records: list[ConsumerRecord]) -> list[list[Output] | Exception]:
        parsed = parse_records(records, Chunk, "invalid-chunk")
        chunks = list({c.id: c for c in parsed if isinstance(c, Chunk)}.values())
        results = {r.chunk_id: r for r in generator.results(chunks)}  # all in flight at once
        out: list[list[Output] | Exception] = []
        for item in parsed:
            if isinstance(item, PoisonMessage):
                out.append(item)
                continue
            result = results[item.id]
            if result.transient:  # the teacher is down or overloaded: the message waits for it
                reason, _, detail = result.rejections[0]
                out.append(DependencyUnavailable(f"{reason}: {detail}"))
                continue
            outputs = outputs_of(
                result.samples, Rejection.many(generator.name, result.rejections), rejections_topic
            )
            out.append(outputs)
        return out

    return handle
