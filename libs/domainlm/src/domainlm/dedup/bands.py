"""datasketch's MinHashLSH, fed band keys computed for a whole batch at once.

``MinHashLSH.query`` and ``insert`` slice, byte-swap and copy every band of every sketch in Python,
which costs more than sketching itself. Here the band keys of a batch come from one numpy call and go
straight into the index's own ``hashtables`` and ``keys`` storages, exactly as ``insert`` would put
them, so the index stays a plain datasketch index (its ``query``, ``remove`` and ``in`` keep working).
A probe at start-up checks that the keys match datasketch's own; if a datasketch release ever makes
them differ, every call goes through the public ``query``/``insert`` instead (slower, same result).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from datasketch import MinHashLSH

from domainlm.dedup.sketch import lean_minhash

U32 = npt.NDArray[np.uint32]
_PROBE = -1  # row ids are never negative


def band_keys(sigs: U32, bands: int, rows: int) -> list[list[bytes]]:
    """Per sketch, the key of each band: its values as big-endian bytes, as datasketch makes them."""
    big = np.ascontiguousarray(sigs[:, : bands * rows], dtype=">u4")
    keys: list[list[bytes]] = big.view(f"V{4 * rows}").tolist()
    return keys


class BandedLsh:
    """A MinHashLSH whose keys are row numbers; query and insert take precomputed band keys."""

    def __init__(self, num_perm: int, bands: int, rows: int, seed: int) -> None:
        self.lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
        self.bands, self.rows, self.seed = bands, rows, seed
        self._gets = [t.get for t in self.lsh.hashtables]
        self.direct = self._keys_match_datasketch(num_perm)

    def band_keys(self, sigs: U32) -> list[list[bytes]]:
        return band_keys(sigs, self.bands, self.rows)

    def query(self, keys: list[bytes], sig: U32) -> set[int]:
        if not self.direct:
            return set(self.lsh.query(lean_minhash(sig, self.seed)))
        found: set[int] = set()
        for get, key in zip(self._gets, keys, strict=True):
            hit = get(key)
            if hit:
                found |= hit
        return found

    def insert(self, key: int, keys: list[bytes], sig: U32) -> None:
        if not self.direct:
            self.lsh.insert(key, lean_minhash(sig, self.seed), check_duplication=False)
            return
        self.lsh.keys.insert(key, *keys)
        for table, band in zip(self.lsh.hashtables, keys, strict=True):
            table.insert(band, key)

    def _keys_match_datasketch(self, num_perm: int) -> bool:
        sig = np.random.default_rng(0).integers(0, 2**32, size=(1, num_perm), dtype=np.uint32)
        self.lsh.insert(_PROBE, lean_minhash(sig[0], self.seed))  # also teaches the index its scheme
        theirs = list(self.lsh.keys.get(_PROBE))
        self.lsh.remove(_PROBE)
        return theirs == self.band_keys(sig)[0]
