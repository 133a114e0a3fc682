"""`domainlm-generator`: the generator service's Kafka worker and gRPC server until SIGTERM."""

from __future__ import annotations

from domainlm.checks.judge import build_judge
from domainlm.generation import SampleGenerator
from domainlm.teacher import TeacherClient
from domainlm_chassis.service import serve
from domainlm_generator.handler import chunk_batch_handler
from domainlm_generator.servicer import GeneratorServicer
from domainlm_generator.settings import GeneratorServiceSettings


def main() -> None:
    settings = GeneratorServiceSettings()
    teacher = TeacherClient(settings.teacher)
    teacher.check_reachable()
    judge = build_judge(settings.judge, settings.teacher, teacher)
    generator = SampleGenerator(teacher, settings.generate, judge=judge)
    handler = chunk_batch_handler(generator, settings.rejections_topic)
    serve(settings.worker("generator", batch_handler=handler), settings, [GeneratorServicer(generator)])


if __name__ == "__main__":
    main()
