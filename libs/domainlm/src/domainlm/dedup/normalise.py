"""Text normalisation for dedup, and character n-gram shingles.

Korean has no reliable word boundaries for this purpose (particles attach to nouns, spacing varies
between writers), so texts are compared as sets of character n-grams after removing everything but
letters and digits. The batch functions do the same work as the one-text ones, over a whole batch at
once with numpy, because per-row Python overhead dominates dedup time.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# The one definition of "what is compared": the faithfulness check uses it too.
from domainlm.textsim import squash as normalise

# A Unicode noncharacter: it never carries meaning in text, NFKC and case-folding leave it alone, and it
# is not alphanumeric, so it separates the texts of a batch and then disappears with the punctuation.
_SEP = "\ufdd0"
# Odd multiplier of the n-gram polynomial hash; odd keeps "h * K" a bijection modulo 2**32.
_K = np.uint32(0x9E3779B1)
_PAD = "\0"  # pads texts shorter than n; never survives normalisation, so it cannot collide

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]


def normalise_many(texts: Sequence[str]) -> list[str]:
    """``[normalise(t) for t in texts]``, about twice as fast on large batches."""
    if not texts:
        return []
    # NFKC only where needed: normalising one long joined string would redo the clean rows too.
    texts = [t if unicodedata.is_normalized("NFKC", t) else unicodedata.normalize("NFKC", t) for t in texts]
    joined = _SEP.join(texts)
    if joined.count(_SEP) != len(texts) - 1:  # a text holds the separator itself: take the slow path
        return [normalise(t) for t in texts]
    cps = _codepoints(joined.casefold())
    keep = _isalnum(cps)
    bounds = np.concatenate(([0], np.flatnonzero(cps == ord(_SEP))))
    lengths = np.add.reduceat(keep.view(np.uint8), bounds, dtype=np.int64)  # letters kept per text
    flat = cps[keep].tobytes().decode("utf-32-le", errors="surrogatepass")
    ends = np.cumsum(lengths).tolist()
    return [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def shingles(norm: str, n: int) -> set[str]:
    """The set of character n-grams of a normalised text (the whole text if it is shorter than n)."""
    if len(norm) <= n:
        return {norm}
    return {norm[i : i + n] for i in range(len(norm) - n + 1)}


def hash_shingle(shingle: str, n: int) -> int:
    """32-bit hash of one shingle: the scalar reference of :func:`shingle_hashes`."""
    h = 0
    for ch in shingle.ljust(n, _PAD):
        h = (h * int(_K) + ord(ch)) & 0xFFFFFFFF
    return h


def shingle_hashes(norms: Sequence[str], n: int) -> tuple[U32, I64]:
    """Hashes of the n-grams of many normalised texts: one flat array, and the count per text.

    Every text yields at least one hash (a text shorter than n is padded to one n-gram), so the
    counts can be used directly as ``np.minimum.reduceat`` segments.
    """
    padded = [s if len(s) >= n else s.ljust(n, _PAD) for s in norms]
    lengths = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
    cps = _codepoints("".join(padded))
    windows = len(cps) - n + 1
    h = cps[:windows].copy()
    for k in range(1, n):  # polynomial hash of every window, wrapping modulo 2**32
        h *= _K
        h += cps[k : k + windows]
    counts = lengths - n + 1
    starts = np.cumsum(lengths) - lengths
    # Keep only windows that start and end inside one text.
    positions = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    return h[positions], counts


def _codepoints(text: str) -> U32:
    return np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)


@functools.cache
def _bmp_isalnum() -> npt.NDArray[np.bool_]:
    return np.fromiter((chr(c).isalnum() for c in range(0x10000)), dtype=np.bool_, count=0x10000)


def _isalnum(cps: U32) -> npt.NDArray[np.bool_]:
    table = _bmp_isalnum()
    astral = cps > 0xFFFF
    if not astral.any():
        return table[cps]
    keep = table[np.where(astral, 0, cps)]
    for cp in np.unique(cps[astral]).tolist():  # rare: emoji, historic scripts, CJK extensions
        keep[cps == cp] = chr(cp).isalnum()
    return keep
