"""The server: health per service, the probe's exit codes, exceptions mapped to status codes."""

from __future__ import annotations

import grpc
import pytest
from grpcutil import health, serving

from domainlm.childproc import free_port
from domainlm.records import Chunk
from domainlm_chassis.grpc import probe
from domainlm_chassis.grpc.codecs import field_from_proto
from domainlm_chassis.grpc.server import start_grpc_server, status_for
from domainlm_chassis.protos.domainlm.v1 import generator_pb2, generator_pb2_grpc, records_pb2


class _Failing(generator_pb2_grpc.GeneratorServiceServicer):
    """A servicer whose errors are chosen by the chunk's text."""

    service_name = "domainlm.v1.GeneratorService"

    def add_to(self, server: grpc.Server) -> None:
        generator_pb2_grpc.add_GeneratorServiceServicer_to_server(self, server)

    @status_for((KeyError, grpc.StatusCode.NOT_FOUND))
    def Generate(
        self, request: generator_pb2.GenerateRequest, context: grpc.ServicerContext
    ) -> generator_pb2.GenerateResponse:
        chunk = field_from_proto(request, "chunk", Chunk)
        if chunk.text == "missing":
            raise KeyError(f"no chunk {chunk.id!r}")
        raise RuntimeError("a bug")


def test_health_serving_for_the_server_and_each_service() -> None:
    with serving(_Failing()) as channel:
        assert health(channel) == "SERVING"
        assert health(channel, "domainlm.v1.GeneratorService") == "SERVING"
        assert health(channel, "domainlm.v1.NoSuchService") == "NOT_FOUND"


def test_probe_exit_codes() -> None:
    port = free_port()
    server = start_grpc_server(port, [_Failing()], host="127.0.0.1")
    try:
        target = f"127.0.0.1:{port}"
        assert probe.main([target]) == 0
        assert probe.main([target, "--service", "domainlm.v1.GeneratorService"]) == 0
        assert probe.main([target, "--service", "domainlm.v1.NoSuchService"]) == 1
    finally:
        server.stop(grace=None)
    assert probe.main([target, "--timeout", "0.5"]) == 1  # nothing listens any more


def test_errors_become_status_codes() -> None:
    with serving(_Failing()) as channel:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        cases = [
            (generator_pb2.GenerateRequest(), grpc.StatusCode.INVALID_ARGUMENT, "chunk is required"),
            (generator_pb2.GenerateRequest(chunk=records_pb2.Chunk(id="c", text="missing")),
             grpc.StatusCode.NOT_FOUND, "no chunk 'c'"),
            (generator_pb2.GenerateRequest(chunk=records_pb2.Chunk(id="c", text="other")),
             grpc.StatusCode.UNKNOWN, ""),
        ]  # fmt: skip
        for request, code, details in cases:
            with pytest.raises(grpc.RpcError) as err:
                stub.Generate(request, timeout=10)
            assert err.value.code() == code
            assert details in (err.value.details() or "")


def test_a_taken_port_is_an_error() -> None:
    port = free_port()
    server = start_grpc_server(port, [], host="127.0.0.1")
    try:
        with pytest.raises(RuntimeError):
            start_grpc_server(port, [], host="127.0.0.1")
    finally:
        server.stop(grace=None)
