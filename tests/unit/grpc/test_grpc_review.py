"""ReviewService over a real channel, on a SQLite review store; verified decisions are published."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpcutil import health, serving

from domainlm.records import Provenance, ReviewState, Sample, SampleKind
from domainlm.review.store import ReviewStore
from domainlm_chassis.grpc.codecs import from_proto
from domainlm_chassis.protos.domainlm.v1 import review_pb2, review_pb2_grpc
from domainlm_review.servicer import ReviewServicer

PROV = Provenance(doc_id="d", source="a.pdf", pages=[1], section="제3조", chunk_id="c1")


def _sample(i: int) -> Sample:
    return Sample(
        id=f"s{i}", kind=SampleKind.QA, instruction=f"질문 {i}?", output=f"답 {i}.", provenance=PROV
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReviewStore]:
    """Three pending items, in a store built the one way the service builds it (a database URL)."""
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.sqlite'}")
    for i in range(3):
        store.submit(_sample(i), "human")
    yield store
    store.close()


def test_review_queue_over_grpc(store: ReviewStore) -> None:
    published: list[Sample] = []
    with serving(ReviewServicer(store, published.append)) as channel:
        assert health(channel, "domainlm.v1.ReviewService") == "SERVING"
        stub = review_pb2_grpc.ReviewServiceStub(channel)

        pending = stub.ListPending(review_pb2.ListPendingRequest(), timeout=10)
        assert [s.id for s in pending.samples] == ["s0", "s1", "s2"]
        assert [
            s.id for s in stub.ListPending(review_pb2.ListPendingRequest(limit=2), timeout=10).samples
        ] == [
            "s0",
            "s1",
        ]

        def decide(**fields: str) -> Sample:
            request = review_pb2.DecideRequest(decision=review_pb2.Decision(**fields))
            return from_proto(stub.Decide(request, timeout=10).sample, Sample)

        edited = decide(id="s0", action="edit", reviewer="kim", output="고친 답.")
        assert (edited.review, edited.reviewer, edited.output) == (ReviewState.EDITED, "kim", "고친 답.")
        assert decide(id="s1", action="reject").review == ReviewState.REJECTED
        assert published == [edited]  # only verified decisions flow on

        item = stub.GetItem(review_pb2.GetItemRequest(id="s0"), timeout=10)
        assert from_proto(item.sample, Sample) == edited
        (entry,) = item.history
        assert (entry.action, entry.reviewer, entry.output, entry.HasField("instruction")) == (
            "edit",
            "kim",
            "고친 답.",
            False,
        )
        assert entry.decided_at > 0

        counts = stub.Counts(review_pb2.CountsRequest(), timeout=10).counts
        assert dict(counts) == {"edited": 1, "rejected": 1, "pending": 1}


@pytest.mark.parametrize(
    ("decision", "code"),
    [
        (review_pb2.Decision(id="nope", action="approve"), grpc.StatusCode.NOT_FOUND),
        (review_pb2.Decision(id="s0", action="edit"), grpc.StatusCode.INVALID_ARGUMENT),  # changes nothing
        (review_pb2.Decision(id="s0", action="maybe"), grpc.StatusCode.INVALID_ARGUMENT),
        # decided on a version the item no longer has (it is at 0): another reviewer came first
        (review_pb2.Decision(id="s0", action="approve", version=3), grpc.StatusCode.FAILED_PRECONDITION),
    ],
)
def test_bad_decisions_are_refused_with_a_reason(
    store: ReviewStore, decision: review_pb2.Decision, code: grpc.StatusCode
) -> None:
    published: list[Sample] = []
    with serving(ReviewServicer(store, published.append)) as channel:
        stub = review_pb2_grpc.ReviewServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Decide(review_pb2.DecideRequest(decision=decision), timeout=10)
        assert err.value.code() == code and err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            stub.GetItem(review_pb2.GetItemRequest(id="nope"), timeout=10)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and "nope" in (err.value.details() or "")
    assert not published and store.counts() == {"pending": 3}
