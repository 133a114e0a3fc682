"""The persistent near-duplicate index: datasketch MinHash LSH for candidates, exact Jaccard to decide.

LSH alone both misses pairs and invents them; here it only proposes. Each kept row's set of shingle
hashes is stored, and a row is a duplicate only when its exact Jaccard similarity with a kept row
reaches the threshold. Shingles are compared by their 32-bit hash: a collision inside one pair's few
hundred shingles has a probability around 1e-5 and would move the similarity by one shingle.

A directory holds the index as one ``index.npz`` (written to a temporary name, then renamed), so a
later run, or a resumed one, deduplicates against everything kept before. It takes about 1 KB per kept
row (its shingle set and signature). One process writes a directory at a time: two savers would each
write only what they kept. Texts without a letter or digit all normalise to nothing, and so are
duplicates of one another.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from domainlm.dedup.bands import BandedLsh
from domainlm.dedup.config import MinhashConfig
from domainlm.dedup.normalise import normalise_many, shingle_hashes
from domainlm.dedup.sets import intersection, unique_per_row
from domainlm.dedup.sketch import signatures

U32 = npt.NDArray[np.uint32]

FILE = "index.npz"
FORMAT = 1


class Match(NamedTuple):
    """The kept row a new row duplicates, and their exact Jaccard similarity."""

    kept: str
    similarity: float


class IndexConfigMismatch(ValueError):
    """The index on disk was built with other settings; its decisions would not be comparable."""


class NearDuplicateIndex:
    """Kept rows of every batch so far; new rows are checked against them and against each other."""

    def __init__(self, config: MinhashConfig, path: Path | None = None) -> None:
        self.config = config
        self.path = path
        self._lsh = BandedLsh(config.num_perm, *config.lsh_params(), seed=config.seed)
        self._keys: list[str] = []
        self._ids: dict[str, int] = {}
        self._sets: list[U32] = []  # sorted, unique shingle hashes of each kept row
        self._sigs: list[U32] = []  # one (rows, num_perm) block per batch, for save()
        if path is not None and (path / FILE).exists():
            self._load(path / FILE)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def add_batch(self, keys: Sequence[str], texts: Sequence[str]) -> list[Match | None]:
        """Checks each row against the index and the rows before it, and keeps it if it is new.

        Returns, per row, the kept row it duplicates, or None when the row is kept. A key the index
        already holds (a redelivered or resumed row) comes back as None and is not inserted again; a
        key repeated within the batch gets the answer of its first occurrence.
        """
        if len(keys) != len(texts):
            raise ValueError(f"{len(keys)} keys for {len(texts)} texts")
        out: list[Match | None] = [None] * len(keys)
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key not in self._ids:
                first.setdefault(key, i)
        fresh = list(first.values())
        sets, sigs = sketch(self.config, [texts[i] for i in fresh])
        bands = self._lsh.band_keys(sigs)
        query, insert = self._lsh.query, self._lsh.insert
        kept_rows = []
        for j, i in enumerate(fresh):
            found = query(bands[j], sigs[j])
            match = self._best(sets[j], found) if found else None
            if match is not None:
                out[i] = match
                continue
            insert(len(self._keys), bands[j], sigs[j])
            self._ids[keys[i]] = len(self._keys)
            self._keys.append(keys[i])
            self._sets.append(sets[j].copy())  # a view would pin its whole batch block
            kept_rows.append(j)
        if kept_rows:
            self._sigs.append(sigs[kept_rows])
        if len(first) < len(keys):
            out = [out[first[k]] if k in first else m for k, m in zip(keys, out, strict=True)]
        return out

    def lookup(self, texts: Sequence[str]) -> list[Match | None]:
        """The kept row each text duplicates, if any; changes nothing."""
        sets, sigs = sketch(self.config, texts)
        bands = self._lsh.band_keys(sigs)
        return [self._best(sets[j], self._lsh.query(bands[j], sigs[j])) for j in range(len(sets))]

    def save(self) -> None:
        """Writes the index atomically into its directory."""
        if self.path is None:
            raise ValueError("this index has no directory to be saved in")
        self.path.mkdir(parents=True, exist_ok=True)
        lengths = np.fromiter(map(len, self._sets), dtype=np.int64, count=len(self._sets))
        sigs = np.concatenate(self._sigs) if self._sigs else np.empty((0, self.config.num_perm), np.uint32)
        self._sigs = [sigs]
        tmp = self.path / f".{FILE}.{os.getpid()}.partial"
        with tmp.open("wb") as f:
            np.savez(
                f,
                format=np.array(FORMAT),
                config=_utf8(self.config.model_dump_json()),
                keys=_utf8(json.dumps(self._keys, ensure_ascii=False)),
                lengths=lengths,
                hashes=np.concatenate(self._sets) if self._sets else np.empty(0, np.uint32),
                signatures=sigs,
            )
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path / FILE)

    # -- internals -----------------------------------------------------------------------------------

    def _best(self, shingles: U32, candidates: Iterable[int]) -> Match | None:
        return best_match(
            shingles, ((self._keys[c], self._sets[c]) for c in candidates), self.config.threshold
        )

    def _load(self, file: Path) -> None:
        with np.load(file) as data:
            if int(data["format"]) != FORMAT:
                raise ValueError(f"{file}: index format {int(data['format'])}, this code reads {FORMAT}")
            stored = MinhashConfig.model_validate_json(bytes(data["config"]))
            if stored != self.config:
                raise IndexConfigMismatch(
                    f"{file} was built with {stored!r}, not {self.config!r}; "
                    "use the same dedup settings or start a new index directory"
                )
            keys = json.loads(bytes(data["keys"]))
            lengths, hashes, sigs = data["lengths"], data["hashes"], data["signatures"]
        if not len(keys) == len(lengths) == len(sigs):
            raise ValueError(f"{file}: {len(keys)} keys, {len(lengths)} sets, {len(sigs)} signatures")
        self._keys = keys
        self._ids = {k: i for i, k in enumerate(keys)}
        self._sets = np.split(hashes, np.cumsum(lengths)[:-1]) if len(keys) else []
        self._sigs = [sigs]
        for i, (sig, bands) in enumerate(zip(sigs, self._lsh.band_keys(sigs), strict=True)):
            self._lsh.insert(i, bands, sig)


def sketch(config: MinhashConfig, texts: Sequence[str]) -> tuple[list[U32], U32]:
    """Each text's sorted, unique shingle hashes, and its MinHash signature."""
    if not texts:
        return [], np.empty((0, config.num_perm), np.uint32)
    hashes, counts = shingle_hashes(normalise_many(texts), config.ngram)
    # A repeated shingle cannot change a minimum, so the raw hashes give the same signatures.
    sigs = signatures(hashes, counts, config.num_perm, config.seed)
    return unique_per_row(hashes, counts), sigs


def best_match(shingles: U32, candidates: Iterable[tuple[str, U32]], threshold: float) -> Match | None:
    """The most similar candidate (key, shingle set) at or above the threshold, by exact Jaccard."""
    best: Match | None = None
    for key, other in candidates:
        shared = intersection(shingles, other)
        sim = shared / (len(shingles) + len(other) - shared)
        if sim >= threshold and (best is None or sim > best.similarity):
            best = Match(key, round(sim, 4))
    return best


def _utf8(text: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
