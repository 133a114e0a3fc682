"""The review page and its HTTP API (FastAPI): served by the review service beside its gRPC, and by
`domainlm review serve` over a one-process run's store."""
