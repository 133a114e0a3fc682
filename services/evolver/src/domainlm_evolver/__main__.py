"""`domainlm-evolver`: the evolver service's Kafka worker and gRPC server until SIGTERM."""

from __future__ import annotations

from domainlm.evolution import InstructionEvolver
from domainlm.teacher import TeacherClient
from domainlm_chassis.chunkfeed import ChunkFeed
from domainlm_chassis.service import serve
from domainlm_evolver.handler import sample_batch_handler
from domainlm_evolver.servicer import EvolverServicer
from domainlm_evolver.settings import EvolverServiceSettings


def main() -> None:
    settings = EvolverServiceSettings()
    teacher = TeacherClient(settings.teacher)
    teacher.check_reachable()
    chunks = ChunkFeed(settings.bootstrap, settings.chunks_topic, settings.kafka.client_config())
    evolver = InstructionEvolver(teacher, chunks, settings.evolve)
    handler = sample_batch_handler(evolver, chunks, settings.rejections_topic, settings.chunk_wait_s)
    try:
        serve(settings.worker("evolver", batch_handler=handler), settings, [EvolverServicer(evolver)])
    finally:
        chunks.close()


if __name__ == "__main__":
    main()
