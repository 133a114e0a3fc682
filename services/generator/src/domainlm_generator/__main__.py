"""`domainlm-generator`: runs the generator service's Kafka worker until SIGTERM."""

from __future__ import annotations

from domainlm.generation import SampleGenerator
from domainlm.teacher import TeacherClient
from domainlm_chassis.service import serve
from domainlm_generator.handler import chunk_batch_handler
from domainlm_generator.settings import GeneratorServiceSettings


def main() -> None:
    settings = GeneratorServiceSettings()
    teacher = TeacherClient(settings.teacher)
    teacher.check_reachable()
    handler = chunk_batch_handler(SampleGenerator(teacher, settings.generate), settings.rejections_topic)
    serve(settings.worker("generator", batch_handler=handler), settings)


if __name__ == "__main__":
    main()
