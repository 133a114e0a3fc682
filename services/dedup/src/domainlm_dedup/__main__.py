"""`domainlm-dedup`: the dedup service's Kafka worker and gRPC server until SIGTERM."""

from __future__ import annotations

from domainlm.dedup.shared import SharedNearDuplicateIndex
from domainlm_chassis.service import serve
from domainlm_dedup.handler import sample_batch_handler
from domainlm_dedup.servicer import DedupServicer
from domainlm_dedup.settings import DedupServiceSettings


def main() -> None:
    settings = DedupServiceSettings()
    index = SharedNearDuplicateIndex(settings.minhash, settings.redis_url, settings.namespace)
    handler = sample_batch_handler(index, settings.rejections_topic)
    serve(settings.worker("dedup", batch_handler=handler), settings, [DedupServicer(index)])


if __name__ == "__main__":
    main()
