"""The review HTTP API over the real app (TestClient), on SQLite and on the real Postgres: the queue and
its filters, items with history and source, decisions with versions, undo, counts, bulk approval,
sign-in and CSRF, uploads and the rendered source page; bad requests get a clear 4xx and change nothing."""

from __future__ import annotations

import io
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from reviewweb import ADMIN, REVIEWER, human_run, wiring

from corpus import SAMPLE_POLICY
from domainlm.review import ReviewStore
from domainlm_chassis.stores import PostgresServer
from domainlm_review.web.app import create_app

pytestmark = pytest.mark.integration
BEARER = {"Authorization": f"Bearer {ADMIN}"}
AS_LEE = {"Authorization": f"Bearer {REVIEWER}"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    human_run(out)
    return out


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, run_dir: Path, tmp_path: Path) -> Iterator[ReviewStore]:
    """A fresh copy of the run's pending items, in SQLite or in a new Postgres database."""
    source = ReviewStore(run_dir / "review.sqlite")
    items = list(source.items())
    source.close()
    if request.param == "sqlite":
        target = ReviewStore(tmp_path / "review.sqlite")
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        name = f"review_{uuid.uuid4().hex[:8]}"
        # a database per test: the same items, a fresh history
        with psycopg.connect(pg.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        target = ReviewStore(pg.url.rsplit("/", 1)[0] + f"/{name}")
    for sample in items:
        target.submit(sample, "human")
    yield target
    target.close()


@pytest.fixture
def published() -> list[Any]:
    return []


@pytest.fixture
def client(store: ReviewStore, run_dir: Path, published: list[Any]) -> TestClient:
    return TestClient(create_app(wiring(store, run_dir, published)))


def pending(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/items", params={"state": "pending", **params}, headers=BEARER)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_sign_in_is_required_and_checked(client: TestClient, store: ReviewStore, run_dir: Path) -> None:
    assert client.get("/api/items").status_code == 401
    assert client.get("/api/items", headers={"Authorization": "Bearer nope"}).status_code == 401
    # the page sends the browser to the sign-in form, which sets the session and CSRF cookies
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert (
        client.post("/login", data={"token": "nope"}, follow_redirects=False).headers["location"]
        == "/login?failed=1"
    )
    signed = client.post("/login", data={"token": REVIEWER}, follow_redirects=False)
    assert signed.headers["location"] == "/" and client.cookies.get("domainlm_session") == REVIEWER
    assert client.get("/api/me").json()["user"] == "lee"
    # a cookie-signed request that changes something needs the CSRF header (another site cannot read it)
    item = pending(client)["items"][0]
    body = {"action": "approve", "version": item["version"]}
    url = f"/api/items/{item['sample']['id']}/decision"
    assert client.post(url, json=body).status_code == 403
    assert client.post(url, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    ok = client.post(url, json=body, headers={"X-CSRF-Token": client.cookies["domainlm_csrf"]})
    assert ok.status_code == 200 and ok.json()["sample"]["reviewer"] == "lee"
    # an authenticating proxy's user header counts only from a trusted address
    trusted = wiring(store, run_dir, trusted_proxies=["10.0.0.0/8"], admins=["park"])
    for address, expected in (("10.1.2.3", 200), ("192.168.1.9", 401)):
        proxied = TestClient(create_app(trusted), client=(address, 4000))
        me = proxied.get("/api/me", headers={"X-Forwarded-User": "park"})
        assert me.status_code == expected
    assert proxied.get("/api/me").status_code == 401


def test_queue_filters_sorts_and_pages(client: TestClient) -> None:
    everything = pending(client, limit=500)
    total = everything["total"]
    assert total == len(everything["items"]) > 20
    first = pending(client, limit=5)
    second = pending(client, limit=5, offset=5)
    assert first["total"] == total and len(first["items"]) == 5
    assert not {i["sample"]["id"] for i in first["items"]} & {i["sample"]["id"] for i in second["items"]}
    mcq = pending(client, kind="mcq", limit=500)
    assert mcq["total"] and all(i["sample"]["kind"] == "mcq" for i in mcq["items"])
    word = everything["items"][3]["sample"]["instruction"].split()[-1]
    found = pending(client, q=word, limit=500)
    assert found["total"] >= 1 and all(
        word.lower() in (i["sample"]["instruction"] + "\n" + i["sample"]["output"]).lower()
        for i in found["items"]
    )
    scores = [
        i["sample"]["scores"]["answer_support"]
        for i in pending(client, sort="score", order="desc", limit=500)["items"]
    ]
    assert scores == sorted(scores, reverse=True)
    section = everything["items"][0]["sample"]["provenance"]["section"].split(" > ")[-1]
    assert all(
        section in i["sample"]["provenance"]["section"] for i in pending(client, section=section)["items"]
    )
    doc = everything["items"][0]["sample"]["provenance"]["doc_id"]
    assert (
        pending(client, doc_id=doc[:8])["total"] == total and pending(client, doc_id="ffff0000")["total"] == 0
    )
    bad = client.get("/api/items", params={"min_score": 2}, headers=BEARER)
    assert bad.status_code == 422 and "min_score" in bad.text
    assert client.get("/api/items", params={"colour": "red"}, headers=BEARER).status_code == 422


def test_decisions_versions_history_and_undo(client: TestClient, published: list[Any]) -> None:
    items = pending(client)["items"]
    first, second = items[0], items[1]
    url = f"/api/items/{first['sample']['id']}"
    shown = client.get(url, headers=BEARER).json()
    assert shown["history"] == [] and shown["chunk"] and first["sample"]["evidence"] in shown["chunk"]
    assert shown["pdf"] and shown["evidence_page"] in first["sample"]["provenance"]["pages"]
    approved = client.post(url + "/decision", json={"action": "approve", "version": 0}, headers=BEARER)
    assert approved.status_code == 200 and approved.json()["version"] == 1
    assert [p.id for p in published] == [first["sample"]["id"]]
    # another reviewer's decision on the version they saw (0) is refused and shown what changed
    stale = client.post(
        url + "/decision", json={"action": "reject", "version": 0, "reason": "wrong-answer"}, headers=AS_LEE
    )
    assert stale.status_code == 412
    assert (
        stale.json()["current"]["sample"]["review"] == "approved"
        and stale.json()["last"]["reviewer"] == "kim"
    )
    # an edit that changes nothing, an unknown id, an unknown action or reason: 4xx, nothing changes
    out = f"/api/items/{second['sample']['id']}/decision"
    same = {"action": "edit", "version": 0, "output": second["sample"]["output"]}
    assert client.post(out, json=same, headers=BEARER).status_code == 422
    assert (
        client.post(
            "/api/items/nope/decision", json={"action": "approve", "version": 0}, headers=BEARER
        ).status_code
        == 404
    )
    assert client.post(out, json={"action": "bless", "version": 0}, headers=BEARER).status_code == 422
    assert (
        client.post(
            out, json={"action": "reject", "version": 0, "reason": "ugly"}, headers=BEARER
        ).status_code
        == 422
    )
    assert client.get(f"/api/items/{second['sample']['id']}", headers=BEARER).json()["history"] == []
    edited = client.post(
        out, json={"action": "edit", "version": 0, "output": "고친 답입니다."}, headers=AS_LEE
    )
    assert (
        edited.json()["sample"]["review"] == "edited"
        and edited.json()["sample"]["output"] == "고친 답입니다."
    )
    rejected = client.post(
        url + "/decision",
        json={"action": "reject", "version": 1, "reason": "not-in-source", "note": "조항 없음"},
        headers=BEARER,
    )
    assert rejected.json()["history"][-1]["note"] == "reason: not-in-source; 조항 없음"
    # undo: each reviewer takes back their own last decision, in turn
    undone = client.post("/api/undo", headers=BEARER)
    assert undone.status_code == 200 and undone.json()["sample"]["review"] == "approved"
    assert undone.json()["history"][-1]["action"] == "undo"
    assert client.post("/api/undo", headers=BEARER).json()["sample"]["review"] == "pending"
    assert client.post("/api/undo", headers=BEARER).status_code == 409  # nothing left of kim's
    assert client.post("/api/undo", headers=AS_LEE).json()["sample"]["output"] == second["sample"]["output"]
    counts = client.get("/api/counts", headers=BEARER).json()
    assert counts["pending"] == counts["total"] and counts["reviewers"] == {"kim": 2, "lee": 1}


def test_bulk_approval_is_for_admins_and_counted_first(client: TestClient, published: list[Any]) -> None:
    body = {"filter": {"kind": "qa"}, "min_score": 0.9}
    assert client.post("/api/bulk/preview", json=body, headers=AS_LEE).status_code == 403
    count = client.post("/api/bulk/preview", json=body, headers=BEARER).json()["count"]
    qa = pending(client, kind="qa", min_score=0.9, limit=500)
    assert count == qa["total"] > 0
    changed = client.post("/api/bulk/approve", json={**body, "expected": count + 1}, headers=BEARER)
    assert changed.status_code == 409 and pending(client, kind="qa", min_score=0.9)["total"] == count
    done = client.post("/api/bulk/approve", json={**body, "expected": count}, headers=BEARER)
    assert done.json() == {"approved": count} and len(published) == count
    assert (
        pending(client, kind="qa", min_score=0.9)["total"] == 0 and pending(client, kind="mcq")["total"] > 0
    )


def test_uploads_page_images_status_and_openapi(client: TestClient, run_dir: Path, tmp_path: Path) -> None:
    pdf = SAMPLE_POLICY.read_bytes()
    files = {"file": ("상해약관.pdf", pdf, "application/pdf")}
    accepted = client.post("/v1/documents", files=files, headers=BEARER)
    assert accepted.status_code == 202 and Path(accepted.json()["source"]).read_bytes() == pdf
    assert (
        client.post(
            "/v1/documents", files={"file": ("a.pdf", b"hello", "application/pdf")}, headers=BEARER
        ).status_code
        == 415
    )
    big = b"%PDF-1.7\n" + b"0" * 2_000_001
    assert (
        client.post(
            "/v1/documents", files={"file": ("b.pdf", big, "application/pdf")}, headers=BEARER
        ).status_code
        == 413
    )
    assert client.post("/v1/documents", headers=BEARER).status_code == 422
    shutil.rmtree(run_dir / "inbox")

    item = pending(client)["items"][0]["sample"]
    image = client.get(f"/api/items/{item['id']}/page/{item['provenance']['pages'][0]}.png", headers=BEARER)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(image.content)).convert("RGB")).astype(int)
    # the evidence is boxed in red on the white page
    assert ((pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)).sum() > 50
    assert client.get(f"/api/items/{item['id']}/page/99.png", headers=BEARER).status_code == 404

    status = client.get("/v1/runs/status", headers=BEARER).json()
    assert status["review"]["pending"] > 0 and status["funnel"]["review"]["in"] > 0
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {
        "/api/items",
        "/api/items/{item_id}/decision",
        "/api/undo",
        "/api/bulk/approve",
        "/v1/documents",
    } <= paths
