"""gRPC for the stage services: record codecs, the server with health checks, and the health probe.

The generated message and service modules live in `domainlm_chassis.protos.domainlm.v1`.
"""
