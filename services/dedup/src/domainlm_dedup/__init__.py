"""The dedup service: samples.verified and samples.evolved in, samples.unique out (near-duplicate index shared in Redis)."""
