"""Structure-aware chunking of policy text (관/조/항/호/목)."""

from domainlm.chunking.chunker import ChunkSettings, StructureChunker
from domainlm.chunking.tokens import TokenCounter

__all__ = ["ChunkSettings", "StructureChunker", "TokenCounter"]
