"""gRPC GeneratorService: one chunk in, its checked samples and rejections out."""

from __future__ import annotations

import grpc

from domainlm.generation import SampleGenerator
from domainlm.records import Chunk, Rejection
from domainlm.teacher import TeacherUnavailable
from domainlm_chassis.grpc.codecs import field_from_proto, to_proto
from domainlm_chassis.grpc.server import status_for
from domainlm_chassis.protos.domainlm.v1 import generator_pb2, generator_pb2_grpc, records_pb2


class GeneratorServicer(generator_pb2_grpc.GeneratorServiceServicer):
    service_name = generator_pb2.DESCRIPTOR.services_by_name["GeneratorService"].full_name

    def __init__(self, generator: SampleGenerator) -> None:
        self.generator = generator

    def add_to(self, server: grpc.Server) -> None:
        generator_pb2_grpc.add_GeneratorServiceServicer_to_server(self, server)

    @status_for((TeacherUnavailable, grpc.StatusCode.UNAVAILABLE))
    def Generate(
        self, request: generator_pb2.GenerateRequest, context: grpc.ServicerContext
    ) -> generator_pb2.GenerateResponse:
        chunk = field_from_proto(request, "chunk", Chunk)
        (result,) = self.generator.results([chunk])
        if result.transient:  # the teacher is down or overloaded: the caller should retry, not record
            reason, _, detail = result.rejections[0]
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{reason}: {detail}")
        rejections = Rejection.many(self.generator.name, result.rejections)
        return generator_pb2.GenerateResponse(
            samples=[to_proto(s, records_pb2.Sample) for s in result.samples],
            rejections=[to_proto(r, records_pb2.Rejection) for r in rejections],
        )
