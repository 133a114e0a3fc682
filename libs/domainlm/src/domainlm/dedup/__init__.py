"""Near-duplicate removal: MinHash LSH (datasketch) over normalised character n-grams, verified exactly.

Korean text is compared as character n-grams, not words. LSH proposes candidates; a row is dropped only
when its exact Jaccard similarity with a kept row reaches the threshold; the first row of a cluster is
kept. The index can live in a directory, so later batches are deduplicated against earlier ones.
"""

from domainlm.dedup.config import MinhashConfig
from domainlm.dedup.filter import (
    Clusters,
    NearDuplicateFilter,
    cluster_rows,
    dedup_rows,
    row_text,
    sample_text,
)
from domainlm.dedup.index import IndexConfigMismatch, Match, NearDuplicateIndex
from domainlm.dedup.normalise import normalise, shingles

__all__ = [
    "Clusters",
    "IndexConfigMismatch",
    "Match",
    "MinhashConfig",
    "NearDuplicateFilter",
    "NearDuplicateIndex",
    "cluster_rows",
    "dedup_rows",
    "normalise",
    "row_text",
    "sample_text",
    "shingles",
]
