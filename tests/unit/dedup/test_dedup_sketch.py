"""Normalisation, shingles and signatures: the batch code must equal the one-text code and datasketch."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from domainlm.dedup import MinhashConfig
from domainlm.dedup.bands import BandedLsh
from domainlm.dedup.normalise import hash_shingle, normalise, normalise_many, shingle_hashes, shingles
from domainlm.dedup.sets import intersection, unique_per_row
from domainlm.dedup.sketch import SCHEME, lean_minhash, signatures

TEXTS = [
    "제3조(보상하는  손해) ① 회사는 보험금을 지급합니다.",
    "제3조 보상하는 손해 1 회사는 보험금을 지급합니다",
    "ＡＢＣ  full-width, Straße ß",
    "",
    "ab",
    "!!!",
    "🙂 emoji 𝔘𝔫𝔦 and 한글",
    "같은 말 같은 말 같은 말 같은 말",
]


def test_normalise_keeps_letters_and_digits_only() -> None:
    assert normalise("제3조(보상하는  손해) ①Ａ") == "제3조보상하는손해1a"
    assert normalise(TEXTS[0]) == normalise(TEXTS[1])
    assert normalise_many(TEXTS) == [normalise(t) for t in TEXTS]
    assert normalise_many([]) == []


def test_shingle_hashes_match_the_scalar_hash() -> None:
    n = 4
    norms = normalise_many(TEXTS)
    hashes, counts = shingle_hashes(norms, n)
    assert counts.tolist() == [max(1, len(s) - n + 1) for s in norms]
    pieces = np.split(hashes, np.cumsum(counts)[:-1])
    for norm, piece in zip(norms, pieces, strict=True):
        assert set(piece.tolist()) == {hash_shingle(s, n) for s in shingles(norm, n)}


@pytest.mark.parametrize("num_perm", [16, 64])
def test_signatures_equal_datasketch_minhash(num_perm: int) -> None:
    n, seed = 5, 7
    norms = normalise_many(TEXTS)
    hashes, counts = shingle_hashes(norms, n)
    sigs = signatures(hashes, counts, num_perm, seed)
    hashfunc = functools.partial(hash_shingle, n=n)
    for norm, sig in zip(norms, sigs, strict=True):
        m = MinHash(num_perm=num_perm, seed=seed, hashfunc=hashfunc, scheme=SCHEME)
        m.update_batch(sorted(shingles(norm, n)))
        assert np.array_equal(m.hashvalues, sig)


def test_unique_per_row_sorts_and_deduplicates_each_text() -> None:
    rng = np.random.default_rng(0)
    for trial in range(50):
        counts = rng.integers(1, 300, rng.integers(1, 40)).astype(np.int64)
        high = 40 if trial % 2 else 2**32
        hashes = rng.integers(0, high, counts.sum(), dtype=np.uint64).astype(np.uint32)
        hashes[::5] = 0xFFFFFFFF  # the padding value must still count as a real hash
        got = unique_per_row(hashes, counts)
        expected = [np.unique(p) for p in np.split(hashes, np.cumsum(counts)[:-1])]
        assert [g.tolist() for g in got] == [e.tolist() for e in expected]
        a, b = expected[0], expected[-1]
        assert intersection(a, b) == len(np.intersect1d(a, b))


def test_band_keys_are_datasketchs_own() -> None:
    config = MinhashConfig(num_perm=64, bands=16, rows=4)
    lsh = BandedLsh(config.num_perm, *config.lsh_params(), seed=config.seed)
    assert lsh.direct
    sigs = np.random.default_rng(1).integers(0, 2**32, size=(20, 64), dtype=np.uint32)
    sigs[10] = sigs[3]
    sigs[11, :4] = sigs[4, :4]  # one shared band
    keys = lsh.band_keys(sigs)
    reference = MinHashLSH(num_perm=64, params=(16, 4))
    for i in range(10):
        lsh.insert(i, keys[i], sigs[i])
        reference.insert(i, lean_minhash(sigs[i], config.seed))
    for i in range(10, 20):
        ours = lsh.query(keys[i], sigs[i])
        assert ours == set(reference.query(lean_minhash(sigs[i], config.seed)))
        assert ours == set(lsh.lsh.query(lean_minhash(sigs[i], config.seed)))  # datasketch reads our inserts
    assert lsh.query(keys[10], sigs[10]) == {3} and lsh.query(keys[11], sigs[11]) == {4}
