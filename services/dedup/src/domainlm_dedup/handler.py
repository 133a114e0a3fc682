"""The one wiring module: a batch of samples → the shared index → unique samples, duplicates rejected."""

from __future__ import annotations

from kafka.consumer.fetcher import ConsumerRecord
from redis.exceptions import RedisError

from domainlm.dedup import sample_text
from domainlm.records import Rejection, Sample
from domainlm_chassis.worker import (
    BatchHandler,
    DependencyUnavailable,
    Output,
    PoisonMessage,
    outputs_of,
    parse_records,
)
from domainlm_dedup.servicer import DedupIndex


def sample_batch_handler(index: DedupIndex, rejections_topic: str) -> BatchHandler:
    def handle(records: list[ConsumerRecord]) -> list[list[Output] | Exception]:
        parsed = parse_records(records, Sample, "invalid-sample")
        samples = [s for s in parsed if isinstance(s, Sample)]
        ids = [s.id for s in samples]
        try:
            matches = dict(zip(ids, index.add_batch(ids, [sample_text(s) for s in samples]), strict=True))
        except RedisError as e:  # Redis away or busy (a LockError too): the batch waits for it
            return [DependencyUnavailable(f"index-unavailable: {e}")] * len(records)
        out: list[list[Output] | Exception] = []
        for item in parsed:
            if isinstance(item, PoisonMessage):
                out.append(item)
            elif (match := matches[item.id]) is None:
                out.append(outputs_of([item]))
            else:
                detail = f"duplicate of {match.kept} (similarity {match.similarity:.2f})"
                rejection = Rejection(
                    stage="dedup", reason="near-duplicate", record_id=item.id, detail=detail
                )
                out.append(outputs_of([], [rejection], rejections_topic))
        return out

    return handle
