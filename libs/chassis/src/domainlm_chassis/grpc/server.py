"""The gRPC server every stage service runs: its servicers plus the standard health service.

Health reports SERVING for "" (the process) and for each service by its full proto name, which is
what `grpc_health_probe`-style checks, Kubernetes gRPC probes and `domainlm_chassis.grpc.probe` ask.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from domainlm_chassis.grpc.codecs import InvalidRequest

F = TypeVar("F", bound=Callable[..., Any])


class Servicer(Protocol):
    service_name: str  # the full proto name, e.g. domainlm.v1.DedupService

    def add_to(self, server: grpc.Server) -> None: ...


def start_grpc_server(
    port: int,
    servicers: Sequence[Servicer],
    max_workers: int = 8,
    host: str = "[::]",
    max_message_bytes: int = 64 * 1024 * 1024,
) -> grpc.Server:
    """Starts serving on host:port and returns the started server (stop it with `server.stop(grace)`).

    Messages may be up to `max_message_bytes` both ways: Extract carries whole PDFs, which gRPC's
    default 4 MiB would refuse.
    """
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # gRPC sets SO_REUSEPORT by default: a second server on a taken port would then share it
        # silently (and get half the calls) instead of failing.
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(ThreadPoolExecutor(max_workers=max_workers), options=options)
    status = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    for servicer in servicers:
        servicer.add_to(server)
    # grpc returns 0 instead of raising on some failed binds.
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise RuntimeError(f"gRPC server could not bind {host}:{port}")
    for name in ["", *(s.service_name for s in servicers)]:  # before start: no window without them
        status.set(name, health_pb2.HealthCheckResponse.SERVING)
    server.start()
    return server


def status_for(*errors: tuple[type[Exception], grpc.StatusCode]) -> Callable[[F], F]:
    """Decorates an RPC method so that the given exceptions become these status codes.

    InvalidRequest is always INVALID_ARGUMENT. Anything else stays an error of the servicer (UNKNOWN),
    logged by grpc.
    """
    mapping = [(InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT), *errors]
    caught: tuple[type[Exception], ...] = tuple(t for t, _ in mapping)

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return method(self, request, context)
            except caught as e:
                code = next(c for t, c in mapping if isinstance(e, t))
                # KeyError's str() quotes its message; the first argument is the message itself.
                context.abort(code, str(e.args[0]) if e.args else type(e).__name__)

        return wrapper  # type: ignore[return-value]

    return decorate
