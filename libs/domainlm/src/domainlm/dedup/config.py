"""Settings of the near-duplicate filter: shingling, MinHash, LSH banding and verification."""

from __future__ import annotations

from typing import Self

from datasketch import MinHashLSH
from pydantic import BaseModel, ConfigDict, Field, model_validator


class MinhashConfig(BaseModel):
    """How texts are shingled, sketched, bucketed and finally compared.

    Two rows are near-duplicates when the exact Jaccard similarity of their character n-gram sets
    reaches ``threshold``. LSH only proposes candidates, so it is tuned for a lower
    ``lsh_threshold``: a pair just above ``threshold`` must still collide in some band, and the
    exact check removes the extra candidates this lets through.

    The defaults were tuned on the labelled corpus set (``bench/dedup_bench.py``): 4-grams at 0.5 keep
    every distinct item while an exact all-pairs dedup would remove 98.7% of the edited copies (5-grams
    remove fewer, 3-grams start merging distinct clauses). 64 permutations give 16 bands of 4, which
    propose a pair at Jaccard 0.5 / 0.6 / 0.7 with probability 0.64 / 0.89 / 0.99; ``num_perm=128``
    (32 bands of 4: 0.87 / 0.99 / 1.0) finds a few more borderline copies for about 1.5x the time. Bands
    of 3 or fewer rows find more still, but their false candidates grow with the square of the data.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ngram: int = Field(4, ge=1, le=16, description="characters per shingle")
    num_perm: int = Field(64, ge=2, le=1024, description="MinHash permutations")
    threshold: float = Field(0.5, gt=0.0, le=1.0, description="exact Jaccard that makes a duplicate")
    lsh_threshold: float | None = Field(
        None, gt=0.0, le=1.0, description="Jaccard the LSH bands are tuned for; default threshold - 0.1"
    )
    bands: int | None = Field(None, ge=2, description="LSH bands; with rows, skips datasketch's optimiser")
    rows: int | None = Field(None, ge=1, description="MinHash values per band")
    seed: int = Field(1, ge=0, description="seed of the MinHash permutations")

    @model_validator(mode="after")
    def _check_bands(self) -> Self:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): the explicit ones, or datasketch's optimum for ``lsh_threshold``."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        lsh = MinHashLSH(threshold=self.effective_lsh_threshold, num_perm=self.num_perm)
        return lsh.b, lsh.r

    @property
    def effective_lsh_threshold(self) -> float:
        """The Jaccard the LSH is tuned for (never above the verification threshold)."""
        if self.lsh_threshold is not None:
            return min(self.lsh_threshold, self.threshold)
        return max(0.05, self.threshold - 0.1)
