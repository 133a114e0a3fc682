"""The dedup replicas' shared index on a real Redis: the same decisions as the in-memory index, and no
near-duplicate pair escapes when two replicas add the members of one cluster at the same moment."""

from __future__ import annotations

import multiprocessing
import uuid

import numpy as np
import pytest
from datasketch import MinHashLSH

from corpus import corpus_pdf
from domainlm.dedup import MinhashConfig, NearDuplicateIndex
from domainlm.dedup.index import IndexConfigMismatch, sketch
from domainlm.dedup.labelled import LabelledSet, build_labelled, passages, pdf_texts
from domainlm.dedup.shared import SharedNearDuplicateIndex
from domainlm.dedup.sketch import lean_minhash
from domainlm_chassis.stores import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def labelled() -> LabelledSet:
    return build_labelled(passages(pdf_texts([corpus_pdf("05"), corpus_pdf("13")])), rows=1200, seed=3)


def test_same_decisions_as_the_in_memory_index(redis_server: RedisServer, labelled: LabelledSet) -> None:
    rows = labelled.rows
    keys, texts = [r["id"] for r in rows], [r["text"] for r in rows]
    shared = SharedNearDuplicateIndex(MinhashConfig(), redis_server.url, namespace=uuid.uuid4().hex)
    memory = NearDuplicateIndex(MinhashConfig())
    for lo in range(0, len(rows), 100):  # batches, as the service takes them
        assert shared.add_batch(keys[lo:lo + 100], texts[lo:lo + 100]) == memory.add_batch(
            keys[lo:lo + 100], texts[lo:lo + 100])  # fmt: skip
    assert len(shared) == len(memory)
    assert shared.add_batch(keys[:50], texts[:50]) == memory.add_batch(keys[:50], texts[:50])  # redelivery
    # The LSH tables are datasketch's own: its MinHashLSH with the same basename finds the kept rows.
    storage = {"type": "redis", "basename": f"{shared.namespace}:lsh".encode(),
               "redis": {"host": "127.0.0.1", "port": redis_server.port}}  # fmt: skip
    theirs = MinHashLSH(
        num_perm=64, params=MinhashConfig().lsh_params(), storage_config=storage, prepickle=False
    )
    _, sigs = sketch(MinhashConfig(), [texts[0]])
    assert keys[0].encode() in theirs.query(lean_minhash(sigs[0], MinhashConfig().seed))
    with pytest.raises(IndexConfigMismatch):
        SharedNearDuplicateIndex(MinhashConfig(ngram=5), redis_server.url, namespace=shared.namespace)


def _replica(url: str, namespace: str, keys: list[str], texts: list[str], start, out) -> None:
    index = SharedNearDuplicateIndex(MinhashConfig(), url, namespace=namespace)
    kept = []
    for lo in range(0, len(keys), 8):
        start.wait()  # a barrier per batch: both replicas check and add their members of the same clusters
        found = index.add_batch(keys[lo : lo + 8], texts[lo : lo + 8])
        kept += [k for k, m in zip(keys[lo : lo + 8], found, strict=True) if m is None]
    out.put(kept)


def test_two_replicas_racing_keep_one_member_per_cluster(
    redis_server: RedisServer, labelled: LabelledSet
) -> None:
    rows = labelled.rows
    clusters: dict[str, list[dict]] = {}
    for r in rows:
        clusters.setdefault(r["cluster"], []).append(r)
    pairs = [c for c in clusters.values() if len(c) >= 2]
    assert len(pairs) > 100
    # Each replica gets one member of every cluster, in the same order: they collide on every cluster.
    a = [c[0] for c in pairs]
    b = [c[1] for c in pairs]
    namespace = uuid.uuid4().hex
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(2, timeout=60), ctx.Queue()
    procs = [ctx.Process(target=_replica, args=(redis_server.url, namespace, [r["id"] for r in half],
                                                 [r["text"] for r in half], start, out))
             for half in (a, b)]  # fmt: skip
    for p in procs:
        p.start()
    kept = out.get(timeout=120) + out.get(timeout=120)
    for p in procs:
        p.join(timeout=30)
    position = {r["id"]: i for i, c in enumerate(pairs) for r in c}  # each row's cluster among `pairs`
    by_cluster = np.bincount([position[k] for k in kept], minlength=len(pairs))
    # Members of one labelled cluster are near-duplicates (or, for heavy edits, not even that): never
    # both kept unless their similarity is below the threshold.
    memory = NearDuplicateIndex(MinhashConfig())
    expected = [sum(m is None for m in memory.add_batch([x["id"] for x in c[:2]], [x["text"] for x in c[:2]]))
                for c in pairs]  # fmt: skip
    assert by_cluster.tolist() == expected
