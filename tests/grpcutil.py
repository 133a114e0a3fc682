"""gRPC test helpers: servicers served for real on a free port, called through a channel and the stubs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from domainlm.childproc import free_port
from domainlm_chassis.grpc.probe import check_channel
from domainlm_chassis.grpc.server import Servicer, start_grpc_server


@contextmanager
def serving(*servicers: Servicer) -> Iterator[grpc.Channel]:
    """A started server with these servicers, and a ready channel to it; stopped on exit."""
    port = free_port()
    server = start_grpc_server(port, servicers, max_workers=4, host="127.0.0.1")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            yield channel
    finally:
        server.stop(grace=None)


def health(channel: grpc.Channel, service: str = "") -> str:
    """The status name the health service reports, or the gRPC code's name when it refuses."""
    return check_channel(channel, service, timeout=5)
