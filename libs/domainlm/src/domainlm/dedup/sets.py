"""Shingle sets as sorted arrays: made for a whole batch at once, intersected pair by pair."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

_FILL = np.uint32(0xFFFFFFFF)
_EMPTY = np.empty(0, dtype=np.uint32)
_MIN_WIDTH = 16


def unique_per_row(hashes: U32, counts: I64) -> list[U32]:
    """Each text's hashes, sorted and deduplicated: ``counts[i]`` consecutive ``hashes`` are text i.

    Rows are sorted in padded 2-D blocks of similar length (widths are powers of two): numpy sorts many
    short rows with SIMD several times faster than one long array of (row, hash) pairs. The arrays are
    views of those blocks: copy one that is kept for long.
    """
    starts = np.cumsum(counts) - counts
    widths = np.maximum(_MIN_WIDTH, 1 << np.ceil(np.log2(np.maximum(counts, 1))).astype(np.int64))
    out: list[U32] = [_EMPTY] * len(counts)
    for width in np.unique(widths).tolist():
        members = np.flatnonzero(widths == width)
        n = counts[members]
        row = np.repeat(np.arange(len(members)), n)
        col = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        block = np.full((len(members), width), _FILL, dtype=np.uint32)
        block[row, col] = hashes[np.repeat(starts[members], n) + col]
        block.sort(axis=1)
        # Repeats become fill and a second sort moves them behind the row's unique values. A real
        # hash equal to the fill value survives: it is kept by position, not by value.
        repeat = np.zeros_like(block, dtype=np.bool_)
        repeat[:, 1:] = block[:, 1:] == block[:, :-1]
        inside = np.arange(width) < n[:, None]
        unique = (inside & ~repeat).sum(axis=1)
        block[repeat] = _FILL
        block.sort(axis=1)
        for local, (i, k) in enumerate(zip(members.tolist(), unique.tolist(), strict=True)):
            out[i] = block[local, :k]
    return out


def intersection(a: U32, b: U32) -> int:
    """Size of the intersection of two sorted arrays of unique values."""
    if len(a) > len(b):
        a, b = b, a
    # A value above all of b lands past its end; "clip" compares it with b's last, which is smaller.
    return int(np.count_nonzero(b.take(np.searchsorted(b, a), mode="clip") == a))
