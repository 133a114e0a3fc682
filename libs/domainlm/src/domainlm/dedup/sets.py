"""Shingle sets as sorted arrays: made for a whole batch at once, intersected pair by pair."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

_FILL = np.uint32(0xFFFFFFFF)
_MIN_WIDTH = 16


def unique_per_row(hashes: U32, counts: I64) -> tuple[U32, I64]:
    """Sorts and deduplicates each text's hashes: ``counts[i]`` consecutive ``hashes`` are text i.

    Returns the flat sorted, unique values and the new count per text. Rows are sorted in padded 2-D
    blocks of similar length (widths are powers of two), because numpy sorts many short rows with SIMD
    several times faster than one long array of (row, hash) pairs.
    """
    total = len(hashes)
    starts = np.cumsum(counts) - counts
    rows = np.repeat(np.arange(len(counts)), counts)
    cols = np.arange(total) - starts[rows]
    widths = np.maximum(_MIN_WIDTH, 1 << np.ceil(np.log2(np.maximum(counts, 1))).astype(np.int64))
    blocks = []
    ucounts = np.zeros(len(counts), dtype=np.int64)
    for width in np.unique(widths).tolist():
        members = np.flatnonzero(widths == width)
        local = np.full(len(counts), -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        at = local[rows] >= 0
        block = np.full((len(members), width), _FILL, dtype=np.uint32)
        block[local[rows[at]], cols[at]] = hashes[at]
        block.sort(axis=1)
        # First of each run of equal values, inside the row's own length (the fill sorts last).
        keep = np.arange(width) < counts[members, None]
        keep[:, 1:] &= block[:, 1:] != block[:, :-1]
        ucounts[members] = keep.sum(axis=1)
        blocks.append((members, block, keep))
    out = np.empty(int(ucounts.sum()), dtype=np.uint32)
    offsets = np.cumsum(ucounts) - ucounts
    for members, block, keep in blocks:
        rank = np.cumsum(keep, axis=1) - 1
        out[(offsets[members, None] + rank)[keep]] = block[keep]
    return out, ucounts


def intersection(a: U32, b: U32) -> int:
    """Size of the intersection of two sorted arrays of unique values."""
    if len(a) > len(b):
        a, b = b, a
    # A value above all of b lands past its end; "clip" compares it with b's last, which is smaller.
    return int(np.count_nonzero(b.take(np.searchsorted(b, a), mode="clip") == a))
