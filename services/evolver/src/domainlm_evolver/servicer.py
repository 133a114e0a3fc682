"""gRPC EvolverService: one sample in, one round of its evolutions (and why others failed) out."""

from __future__ import annotations

import grpc

from domainlm.evolution import InstructionEvolver
from domainlm.records import Rejection, Sample
from domainlm.teacher import TeacherUnavailable
from domainlm_chassis.grpc.codecs import field_from_proto, to_proto
from domainlm_chassis.grpc.server import status_for
from domainlm_chassis.protos.domainlm.v1 import evolver_pb2, evolver_pb2_grpc, records_pb2


class EvolverServicer(evolver_pb2_grpc.EvolverServiceServicer):
    service_name = evolver_pb2.DESCRIPTOR.services_by_name["EvolverService"].full_name

    def __init__(self, evolver: InstructionEvolver) -> None:
        self.evolver = evolver

    def add_to(self, server: grpc.Server) -> None:
        evolver_pb2_grpc.add_EvolverServiceServicer_to_server(self, server)

    @status_for((TeacherUnavailable, grpc.StatusCode.UNAVAILABLE))
    def Evolve(
        self, request: evolver_pb2.EvolveRequest, context: grpc.ServicerContext
    ) -> evolver_pb2.EvolveResponse:
        sample = field_from_proto(request, "sample", Sample)
        stage = self.evolver.name
        if not self.evolver.evolvable(sample):  # MCQ, or already at the configured depth
            rejection = Rejection(stage=stage, reason="not-evolvable", record_id=sample.id,
                                  detail=f"kind={sample.kind.value} depth={sample.provenance.depth}")  # fmt: skip
            return evolver_pb2.EvolveResponse(rejections=[to_proto(rejection, records_pb2.Rejection)])
        (result,) = self.evolver.results([sample])
        if result.transient:  # a teacher call failed: the caller should retry, not record the failures
            failures = "; ".join(f"{reason}: {detail}" for reason, _, detail in result.rejections)
            context.abort(grpc.StatusCode.UNAVAILABLE, failures)
        rejections = Rejection.many(stage, result.rejections)
        return evolver_pb2.EvolveResponse(
            samples=[to_proto(s, records_pb2.Sample) for s in result.samples],
            rejections=[to_proto(r, records_pb2.Rejection) for r in rejections],
        )
