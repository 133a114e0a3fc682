"""gRPC ReviewService: the verification queue for reviewer tools; verified decisions flow on."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import grpc

from domainlm.records import Sample
from domainlm.review.store import Decision, StaleVersion
from domainlm_chassis.grpc.codecs import InvalidRequest, field_from_proto, to_proto
from domainlm_chassis.grpc.server import status_for
from domainlm_chassis.protos.domainlm.v1 import records_pb2, review_pb2, review_pb2_grpc

DEFAULT_LIMIT = 100  # ListPending with limit 0


class ReviewQueue(Protocol):
    """The parts of domainlm.review.store.ReviewStore the servicer uses."""

    def get(self, item_id: str) -> Sample | None: ...

    def decide(self, decision: Decision) -> Sample: ...

    def pending(self, limit: int | None = None) -> Iterator[Sample]: ...

    def history(self, item_id: str) -> Sequence[Mapping[str, Any]]: ...

    def counts(self) -> dict[str, int]: ...


class ReviewServicer(review_pb2_grpc.ReviewServiceServicer):
    """`publish` sends a verified sample on (the service produces it to samples.verified)."""

    service_name = review_pb2.DESCRIPTOR.services_by_name["ReviewService"].full_name

    def __init__(self, store: ReviewQueue, publish: Callable[[Sample], None]) -> None:
        self.store, self.publish = store, publish

    def add_to(self, server: grpc.Server) -> None:
        review_pb2_grpc.add_ReviewServiceServicer_to_server(self, server)

    @status_for()
    def ListPending(
        self, request: review_pb2.ListPendingRequest, context: grpc.ServicerContext
    ) -> review_pb2.ListPendingResponse:
        if request.limit < 0:
            raise InvalidRequest(f"limit must not be negative, got {request.limit}")
        samples = self.store.pending(request.limit or DEFAULT_LIMIT)
        return review_pb2.ListPendingResponse(samples=[to_proto(s, records_pb2.Sample) for s in samples])

    @status_for((KeyError, grpc.StatusCode.NOT_FOUND))
    def GetItem(
        self, request: review_pb2.GetItemRequest, context: grpc.ServicerContext
    ) -> review_pb2.GetItemResponse:
        sample = self.store.get(request.id)
        if sample is None:
            raise KeyError(f"no review item {request.id!r}")
        history = [to_proto(d, review_pb2.DecisionRecord) for d in self.store.history(request.id)]
        return review_pb2.GetItemResponse(sample=to_proto(sample, records_pb2.Sample), history=history)

    @status_for(
        (KeyError, grpc.StatusCode.NOT_FOUND),
        (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
        (StaleVersion, grpc.StatusCode.FAILED_PRECONDITION),
    )
    def Decide(
        self, request: review_pb2.DecideRequest, context: grpc.ServicerContext
    ) -> review_pb2.DecideResponse:
        sample = self.store.decide(field_from_proto(request, "decision", Decision))
        # Stored first, then published: a publish that fails leaves the decision in the store, and the
        # caller's retry (a second, identical decision) publishes it; downstream is keyed by sample id.
        if sample.is_verified:
            self.publish(sample)
        return review_pb2.DecideResponse(sample=to_proto(sample, records_pb2.Sample))

    @status_for()
    def Counts(
        self, request: review_pb2.CountsRequest, context: grpc.ServicerContext
    ) -> review_pb2.CountsResponse:
        return review_pb2.CountsResponse(counts=self.store.counts())
