"""The review service for real: its process on Postgres and Kafka, human decisions over gRPC and over
its HTTP API (the review page's) flow on, each exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid

import grpc
import httpx
import pytest
from grpcutil import health
from kafkautil import drain, keys, produce, values

from corpus import ROOT, SAMPLE_POLICY
from domainlm.childproc import free_port
from domainlm.ingest import DocumentMessage
from domainlm.records import Provenance, ReviewState, Sample, SampleKind
from domainlm.review import Decision, ReviewStore
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.protos.domainlm.v1 import review_pb2, review_pb2_grpc
from domainlm_chassis.stores import PostgresServer

pytestmark = pytest.mark.integration
PROV = Provenance(doc_id="d", source="a.pdf", pages=[1], section="제3조", chunk_id="c1")


def sample(tag: str, i: int, support: float = 1.0) -> Sample:
    q, a = f"{tag} 질문 {i}?", f"{tag} 답 {i}."
    return Sample(id=Sample.make_id("c1", "qa", q, a), kind=SampleKind.QA, instruction=q, output=a,
                  provenance=PROV, scores={"answer_support": support})  # fmt: skip


def test_store_on_postgres_keeps_every_decision(postgres: PostgresServer) -> None:
    store = ReviewStore(postgres.url)
    tag = uuid.uuid4().hex[:6]
    item = sample(tag, 0)
    assert store.submit(item, "human") and not store.submit(item, "human")  # a redelivery adds nothing
    # Two reviewers at once: both decisions are kept, in order, and the item ends in one of their states.
    threads = [
        threading.Thread(target=store.decide, args=(Decision(id=item.id, action=a, reviewer=r),))
        for a, r in (("approve", "kim"), ("reject", "lee"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = store.history(item.id)
    assert sorted(h["reviewer"] for h in history) == ["kim", "lee"]
    final = store.get(item.id)
    assert final is not None and final.reviewer == history[-1]["reviewer"]
    edited = store.decide(Decision(id=item.id, action="edit", reviewer="park", output="고친 답."))
    assert (edited.review, store.get(item.id)) == (ReviewState.EDITED, edited)
    store.close()


def test_human_decisions_over_grpc_flow_to_kafka(broker: KafkaBroker, postgres: PostgresServer) -> None:
    run = uuid.uuid4().hex[:8]
    grpc_port, http_port = free_port(), free_port()
    env = {**os.environ, **{f"DOMAINLM_REVIEW_{k}": v for k, v in {
        "BOOTSTRAP": broker.bootstrap, "IN_TOPIC": f"generated-{run}", "OUT_TOPIC": f"verified-{run}",
        "REJECTIONS_TOPIC": f"rejections-{run}", "GROUP": f"review-{run}", "DATABASE_URL": postgres.url,
        "REVIEW__POLICY": "human", "GRPC_PORT": str(grpc_port), "METRICS_PORT": str(free_port()),
        "HTTP__PORT": str(http_port), "HTTP__TOKENS": '{"kim-token": {"user": "kim"}}', "CHUNKS_TOPIC": "",
        "DOCUMENTS_TOPIC": f"documents-{run}",
    }.items()}}  # fmt: skip
    items = [sample(run, i) for i in range(3)]
    produce(broker.bootstrap, f"generated-{run}", [(s.id, s.model_dump_json().encode()) for s in items])
    produce(broker.bootstrap, f"generated-{run}", [("bad", b"{not json")])
    service = subprocess.Popen([str(ROOT / ".venv" / "bin" / "domainlm-review")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            assert health(channel, "domainlm.v1.ReviewService") == "SERVING"
            stub = review_pb2_grpc.ReviewServiceStub(channel)
            deadline = time.monotonic() + 60
            pending: set[str] = set()
            while pending != {s.id for s in items} and time.monotonic() < deadline:
                reply = stub.ListPending(review_pb2.ListPendingRequest(limit=100), timeout=10)
                pending = {s.id for s in reply.samples} & {s.id for s in items}
                time.sleep(0.5)
            assert pending == {s.id for s in items}, "every item waits for a human"
            assert keys(broker.bootstrap, f"verified-{run}") == []  # nothing flows on before a decision
            for item, action in zip(items[:2], ("approve", "reject"), strict=True):
                decision = review_pb2.Decision(id=item.id, action=action, reviewer="kim")
                stub.Decide(review_pb2.DecideRequest(decision=decision), timeout=10)
            # the same decision path over HTTP (the review page's API), beside gRPC
            web = httpx.Client(
                base_url=f"http://127.0.0.1:{http_port}", headers={"Authorization": "Bearer kim-token"}
            )
            shown = web.get(f"/api/items/{items[2].id}").json()
            assert shown["version"] == 0 and shown["chunk"] is None  # no chunk feed in this test
            decided = web.post(
                f"/api/items/{items[2].id}/decision",
                json={"action": "edit", "version": 0, "output": "고친 답."},
            )
            assert decided.status_code == 200, decided.text
            again = web.post(
                f"/api/items/{items[2].id}/decision",
                json={"action": "edit", "version": 0, "output": "또 고친 답."},
            )
            assert again.status_code == 412  # a second click on a stale page publishes nothing
            upload = web.post(
                "/v1/documents", files={"file": ("p.pdf", SAMPLE_POLICY.read_bytes(), "application/pdf")}
            )
            assert upload.status_code == 202, upload.text
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=60) == 0
    verified = values(broker.bootstrap, f"verified-{run}")
    # each decided item exactly once (keyed by id, so on different partitions: in no particular order)
    assert sorted((v["id"], v["review"], v["reviewer"]) for v in verified) == sorted(
        [(items[0].id, "approved", "kim"), (items[2].id, "edited", "kim")]
    )
    assert {v["id"]: v["output"] for v in verified}[items[2].id] == "고친 답."
    [document] = values(broker.bootstrap, f"documents-{run}")
    assert DocumentMessage.model_validate(document).pdf_bytes(10**8) == SAMPLE_POLICY.read_bytes()
    dlq = {r.key: dict(r.headers) for r in drain(broker.bootstrap, f"generated-{run}.dlq")}
    assert dlq[b"bad"]["reason"] == b"invalid-sample"
    left = ReviewStore(postgres.url).get(items[1].id)
    assert left is not None and left.review == ReviewState.REJECTED
