"""The protos pass buf's STANDARD lint rules and compile, and the installed Python code matches them.

buf comes from scripts/setup-buf.sh (a pinned release, fetched on first use).
"""

from __future__ import annotations

import importlib
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from corpus import ROOT


@pytest.fixture(scope="module")
def buf() -> Path:
    setup = subprocess.run([str(ROOT / "scripts" / "setup-buf.sh")], capture_output=True, text=True)
    assert setup.returncode == 0, f"scripts/setup-buf.sh failed:\n{setup.stderr}"
    return ROOT / ".cache" / "buf" / "bin" / "buf"


def _buf(buf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(buf), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_buf_lint_finds_nothing(buf: Path) -> None:
    result = _buf(buf, "lint", "proto")
    assert result.returncode == 0, f"buf lint:\n{result.stdout}{result.stderr}"


def test_buf_build_matches_the_generated_python(buf: Path, tmp_path: Path) -> None:
    """buf compiles every file, and each compiles to what the generated module holds: a stale install
    (protos changed, `uv sync` not run) fails here rather than on the wire."""
    image = tmp_path / "image.binpb"
    result = _buf(buf, "build", "proto", "--exclude-source-info", "-o", str(image))
    assert result.returncode == 0, f"buf build:\n{result.stdout}{result.stderr}"
    files = descriptor_pb2.FileDescriptorSet.FromString(image.read_bytes()).file
    assert {f.name for f in files} >= {"domainlm/v1/records.proto", "domainlm/v1/review.proto"}
    for built in files:
        module = importlib.import_module(
            "domainlm_chassis.protos." + built.name.removesuffix(".proto").replace("/", ".") + "_pb2"
        )
        generated = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(generated)
        assert _comparable(generated) == _comparable(built), f"{built.name}: run `uv sync` to regenerate"


def _comparable(file: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    # buf's image carries its own extension fields and fills json_name; protoc's Python code does not.
    file.DiscardUnknownFields()

    def strip(messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
        for message in messages:
            for field in message.field:
                field.ClearField("json_name")
            strip(message.nested_type)

    strip(file.message_type)
    return file
