"""`python -m domainlm_chassis.grpc.probe HOST:PORT [--service NAME]`: exit 0 when SERVING, else 1.

For container health checks: images need no separate grpc_health_probe binary.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(target: str, service: str = "", timeout: float = 3.0) -> str:
    """The serving status name the server at `target` reports for `service` ("" = the whole server).

    An unreachable server or an unknown service reads as the gRPC status code's name instead.
    """
    with grpc.insecure_channel(target) as channel:
        return check_channel(channel, service, timeout)


def check_channel(channel: grpc.Channel, service: str = "", timeout: float = 3.0) -> str:
    """As `check`, over a channel the caller holds."""
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    except grpc.RpcError as e:
        return str(e.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m domainlm_chassis.grpc.probe", description=__doc__)
    parser.add_argument("target", help="HOST:PORT of the gRPC server")
    parser.add_argument("--service", default="", help="full proto service name; default: the server")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    status = check(args.target, args.service, args.timeout)
    print(f"{args.target} {args.service or '(server)'}: {status}", file=sys.stderr)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
