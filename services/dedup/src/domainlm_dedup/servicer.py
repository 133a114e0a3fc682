"""gRPC DedupService: is this sample a near-duplicate of a kept one (and keep it if not)?"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, TypeVar

import grpc

from domainlm.dedup import Match, sample_text
from domainlm.records import Sample
from domainlm_chassis.grpc.codecs import field_from_proto
from domainlm_chassis.grpc.server import status_for
from domainlm_chassis.protos.domainlm.v1 import dedup_pb2, dedup_pb2_grpc

R = TypeVar("R", dedup_pb2.CheckResponse, dedup_pb2.CheckAndAddResponse)


class DedupIndex(Protocol):
    """What the servicer needs of an index: the in-memory NearDuplicateIndex or the shared one."""

    def add_batch(self, keys: Sequence[str], texts: Sequence[str]) -> list[Match | None]: ...

    def lookup(self, texts: Sequence[str]) -> list[Match | None]: ...


class DedupServicer(dedup_pb2_grpc.DedupServiceServicer):
    service_name = dedup_pb2.DESCRIPTOR.services_by_name["DedupService"].full_name

    def __init__(self, index: DedupIndex) -> None:
        self.index = index
        # gRPC calls arrive on several threads; the in-memory index is not safe for concurrent writers.
        self._lock = threading.Lock()

    def add_to(self, server: grpc.Server) -> None:
        dedup_pb2_grpc.add_DedupServiceServicer_to_server(self, server)

    @status_for()
    def Check(
        self, request: dedup_pb2.CheckRequest, context: grpc.ServicerContext
    ) -> dedup_pb2.CheckResponse:
        sample = field_from_proto(request, "sample", Sample)
        with self._lock:
            (match,) = self.index.lookup([sample_text(sample)])
        return _answer(match, dedup_pb2.CheckResponse)

    @status_for()
    def CheckAndAdd(
        self, request: dedup_pb2.CheckAndAddRequest, context: grpc.ServicerContext
    ) -> dedup_pb2.CheckAndAddResponse:
        sample = field_from_proto(request, "sample", Sample)
        with self._lock:
            (match,) = self.index.add_batch([sample.id], [sample_text(sample)])
        return _answer(match, dedup_pb2.CheckAndAddResponse)


def _answer(match: Match | None, cls: type[R]) -> R:
    if match is None:
        return cls(duplicate=False, kept_id="", similarity=0.0)
    return cls(duplicate=True, kept_id=match.kept, similarity=match.similarity)
