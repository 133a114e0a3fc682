"""The review service: samples.generated in, samples.verified out (Postgres review store; human decisions over gRPC)."""
