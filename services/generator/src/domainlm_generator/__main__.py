"""`domainlm-generator`: runs the generator service's Kafka worker until SIGTERM."""

from __future__ import annotations

import logging

from domainlm.generation import SampleGenerator
from domainlm.teacher import TeacherClient
from domainlm_chassis.worker import StageWorker
from domainlm_generator.handler import chunk_batch_handler
from domainlm_generator.settings import GeneratorServiceSettings


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format='{"ts":"%(asctime)s","level":"%(levelname)s","msg":"%(message)s"}'
    )
    s = GeneratorServiceSettings()
    teacher = TeacherClient(s.teacher)
    teacher.check_reachable()
    handler = chunk_batch_handler(SampleGenerator(teacher, s.generate), s.rejections_topic)
    worker = StageWorker("generator", s.bootstrap, s.in_topic, s.out_topic, group=s.group,
                         max_poll_records=s.max_poll_records, batch_handler=handler)  # fmt: skip
    worker.install_signal_handlers()
    worker.run()


if __name__ == "__main__":
    main()
