"""MinHash signatures of many texts at once, identical to datasketch's own.

datasketch's ``MinHash.update_batch`` works on one text at a time; here the same "affine32"
permutations (taken from a datasketch ``MinHash`` with the same seed) are applied to the shingle
hashes of a whole batch in a few numpy calls. The result for each text equals
``MinHash(num_perm, seed, hashfunc=hash_shingle).update_batch(shingles)``, so the rows are real
datasketch sketches and can go into its ``MinHashLSH``.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHash

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

SCHEME = "affine32"
# Shingles per block: a block of (num_perm x block) uint32 values stays in the CPU cache.
_BLOCK = 8192


@functools.cache
def permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    """datasketch's (a, b) for ``h -> a * h + b mod 2**32``, as column vectors."""
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    return a.astype(np.uint32).reshape(-1, 1), b.astype(np.uint32).reshape(-1, 1)


def signatures(hashes: U32, counts: I64, num_perm: int, seed: int) -> U32:
    """MinHash of each text: ``counts[i]`` consecutive ``hashes`` belong to text i (each count >= 1).

    Returns a (texts, num_perm) uint32 array.
    """
    a, b = permutations(num_perm, seed)
    mixed = _fmix32(hashes)
    starts = np.cumsum(counts) - counts
    out = np.empty((num_perm, len(counts)), dtype=np.uint32)
    # Whole texts per block, so each reduceat segment lies inside one block.
    first = 0
    while first < len(counts):
        last = int(np.searchsorted(starts, starts[first] + _BLOCK, side="right"))
        last = max(last, first + 1)
        lo = int(starts[first])
        hi = int(starts[last]) if last < len(counts) else len(mixed)
        permuted = a * mixed[lo:hi]  # (num_perm, block); uint32 wraps, which is the modulo 2**32
        permuted += b
        out[:, first:last] = np.minimum.reduceat(permuted, starts[first:last] - lo, axis=1)
        first = last
    return np.ascontiguousarray(out.T)


def lean_minhash(signature: U32, seed: int) -> LeanMinHash:
    """A datasketch sketch for one signature row (for datasketch's own query and insert)."""
    return LeanMinHash(seed=seed, hashvalues=signature, scheme=SCHEME)


def _fmix32(h: U32) -> U32:
    # datasketch pre-mixes every input hash with the MurmurHash3 finalizer before permuting it.
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))
