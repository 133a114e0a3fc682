"""The near-duplicate index shared by dedup replicas: datasketch's MinHashLSH on Redis storage.

Replicas of the dedup service each take some partitions, but a near-duplicate pair can arrive on any
two of them, so they must see one index. The LSH tables are datasketch's Redis storage (its key layout:
datasketch's own ``MinHashLSH`` with the same basename can query the index), next to a Redis hash of
each kept row's shingle set for the exact Jaccard check, as in :class:`NearDuplicateIndex`.

Check-and-add of a batch holds a Redis lock: two replicas adding near-duplicates at the same moment
would otherwise both see an index without the other and keep both. A batch takes milliseconds, so
replicas queue briefly rather than scale this step; the costly parts of the pipeline (OCR, the teacher)
are elsewhere. A batch's writes go in one MULTI/EXEC, so a crash leaves all of it or none of it, and a
redelivered row whose id is already kept comes back as kept again (at-least-once delivery stays
lossless).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import redis
from datasketch import MinHashLSH

from domainlm.dedup.bands import band_keys
from domainlm.dedup.config import MinhashConfig
from domainlm.dedup.index import IndexConfigMismatch, Match, best_match, sketch

U32 = npt.NDArray[np.uint32]


class SharedNearDuplicateIndex:
    """`add_batch` and `lookup` as :class:`NearDuplicateIndex`, with the state in Redis."""

    def __init__(
        self, config: MinhashConfig, url: str, namespace: str = "domainlm:dedup", lock_timeout_s: float = 60.0
    ) -> None:
        self.config, self.namespace = config, namespace
        self.bands, self.rows = config.lsh_params()
        self.redis = redis.Redis.from_url(url)  # replies are bytes (no decode_responses)
        kwargs = self.redis.connection_pool.connection_kwargs
        storage = {
            "type": "redis",
            "basename": f"{namespace}:lsh".encode(),
            "redis": {k: kwargs[k] for k in ("host", "port", "db", "password") if kwargs.get(k) is not None},
        }
        self.lsh = MinHashLSH(
            num_perm=config.num_perm, params=(self.bands, self.rows), storage_config=storage, prepickle=False
        )
        self._shingles = f"{namespace}:shingles"
        self._lock = self.redis.lock(
            f"{namespace}:lock", timeout=lock_timeout_s, blocking_timeout=2 * lock_timeout_s
        )
        self._check_config()

    def __len__(self) -> int:
        return int(self.redis.hlen(self._shingles))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.redis.hexists(self._shingles, key))

    def add_batch(self, keys: Sequence[str], texts: Sequence[str]) -> list[Match | None]:
        if len(keys) != len(texts):
            raise ValueError(f"{len(keys)} keys for {len(texts)} texts")
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        order = list(first.values())
        sets, sigs = sketch(self.config, [texts[i] for i in order])
        bands = band_keys(sigs, self.bands, self.rows)
        found: dict[str, Match | None] = {}
        with self._lock:
            known = self.redis.hmget(self._shingles, list(first))
            candidates = self._candidates(bands)
            stored = self._stored_sets({c for cs in candidates for c in cs})
            in_batch: list[dict[bytes, list[str]]] = [{} for _ in range(self.bands)]
            kept: list[tuple[str, int]] = []
            for j, key in enumerate(first):
                if known[j] is not None:  # kept before: a redelivery, kept again
                    found[key] = None
                    continue
                mine = set(candidates[j])
                for b, band in enumerate(bands[j]):
                    mine.update(in_batch[b].get(band, ()))
                pool = ((c, stored[c]) for c in mine if c in stored and c != key)
                match = best_match(sets[j], pool, self.config.threshold)
                found[key] = match
                if match is None:
                    kept.append((key, j))
                    stored[key] = sets[j]
                    for b, band in enumerate(bands[j]):
                        in_batch[b].setdefault(band, []).append(key)
            self._write(kept, sets, bands)
        return [found[k] for k in keys]

    def lookup(self, texts: Sequence[str]) -> list[Match | None]:
        sets, sigs = sketch(self.config, texts)
        candidates = self._candidates(band_keys(sigs, self.bands, self.rows))
        stored = self._stored_sets({c for cs in candidates for c in cs})
        return [
            best_match(s, ((c, stored[c]) for c in cs if c in stored), self.config.threshold)
            for s, cs in zip(sets, candidates, strict=True)
        ]

    def clear(self) -> None:
        """Drops the whole index (every key under the namespace)."""
        for key in self.redis.scan_iter(match=f"{self.namespace}:*"):
            self.redis.delete(key)
        self._check_config()

    # -- internals -----------------------------------------------------------------------------------

    def _candidates(self, bands: list[list[bytes]]) -> list[set[str]]:
        """Per row, the kept keys sharing a band with it: one pipelined read per band table."""
        out: list[set[str]] = [set() for _ in bands]
        if not bands:
            return out
        for b, table in enumerate(self.lsh.hashtables):
            for row, members in zip(out, table.getmany(*[keys[b] for keys in bands]), strict=True):
                row.update(m.decode() for m in members)
        return out

    def _stored_sets(self, keys: set[str]) -> dict[str, U32]:
        if not keys:
            return {}
        wanted = sorted(keys)
        raw = cast(list[bytes | None], self.redis.hmget(self._shingles, wanted))
        return {
            k: np.frombuffer(v, dtype=np.uint32) for k, v in zip(wanted, raw, strict=True) if v is not None
        }

    def _write(self, kept: list[tuple[str, int]], sets: list[U32], bands: list[list[bytes]]) -> None:
        if not kept:
            return
        pipe: Any = self.redis.pipeline(transaction=True)
        for key, j in kept:
            member = key.encode()
            # datasketch's storages write through any client; a pipeline makes the batch one MULTI/EXEC.
            for table, band in zip(self.lsh.hashtables, bands[j], strict=True):
                table._insert(pipe, band, member)
            self.lsh.keys._insert(pipe, member, *bands[j])
            pipe.hset(self._shingles, key, sets[j].astype(np.uint32).tobytes())
        pipe.execute()

    def _check_config(self) -> None:
        """The index remembers its settings; other settings would make its decisions incomparable."""
        mine = self.config.model_dump_json()
        name = f"{self.namespace}:config"
        self.redis.set(name, mine, nx=True)
        stored = cast(bytes | None, self.redis.get(name))
        if stored is not None and stored.decode() != mine:
            raise IndexConfigMismatch(
                f"the Redis index {self.namespace!r} was built with {stored.decode()}, not {mine}; "
                "use the same dedup settings or another namespace"
            )
