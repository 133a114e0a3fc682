"""Build hook: generates the Python gRPC code from ../../proto into src/domainlm_chassis/protos.

Generated code is never committed: every install of the package (uv sync, an editable install, a wheel
for an image) runs protoc from grpcio-tools, so the code always matches the protos. uv re-runs the hook
when a .proto changes because pyproject.toml lists them in `[tool.uv] cache-keys`.

protoc names modules after the proto import path: `domainlm/v1/records.proto` becomes the module
`domainlm.v1.records_pb2`, which would sit inside the domain library's `domainlm` package. The code is
generated into a scratch directory and its imports are re-rooted under `domainlm_chassis.protos`; the
protos keep their canonical names (`domainlm/v1/records.proto`, as buf and other languages see them).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = Path("domainlm_chassis", "protos")


def generate(proto_root: Path, src: Path) -> None:
    """Runs protoc on every .proto under proto_root, writing modules under src/domainlm_chassis/protos."""
    from grpc_tools import protoc  # a build dependency of this hook only

    protos = sorted(p.relative_to(proto_root) for p in proto_root.rglob("*.proto"))
    if not protos:
        raise RuntimeError(f"no .proto files under {proto_root}")
    out = src / PACKAGE
    tops = sorted({p.parts[0] for p in protos})
    # `from domainlm.v1 import records_pb2` -> `from domainlm_chassis.protos.domainlm.v1 import ...`
    own_import = re.compile(rf"^(from|import) ({'|'.join(map(re.escape, tops))})([.\s])", re.MULTILINE)
    prefix = ".".join(PACKAGE.parts)
    with tempfile.TemporaryDirectory(prefix="domainlm-protos-") as tmp:
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{proto_root}",
                f"-I{resources.files('grpc_tools') / '_proto'}",  # google/protobuf/*.proto
                f"--python_out={tmp}",
                f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}",
                *(str(proto_root / p) for p in protos),
            ]
        )
        if code != 0:
            raise RuntimeError(f"protoc failed (exit {code}) on {proto_root}")
        for top in tops:  # a removed .proto must not leave its code behind
            shutil.rmtree(out / top, ignore_errors=True)
        for file in sorted(Path(tmp).rglob("*.py*")):
            target = out / file.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(own_import.sub(rf"\1 {prefix}.\2\3", file.read_text()))
    for rel in protos:  # regular packages, so every tool (mypy, wheels) finds the modules
        package = (out / rel).parent
        while package != out:
            (package / "__init__.py").touch()
            package = package.parent


class ProtoBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        proto_root = root.parent.parent / "proto"
        src = root / "src"
        if proto_root.is_dir():
            generate(proto_root, src)
            print(f"domainlm-chassis: generated gRPC code from {proto_root}", file=sys.stderr)
        elif not (src / PACKAGE / "domainlm").is_dir():
            # Built outside the workspace (e.g. from an sdist) with nothing generated to ship.
            raise RuntimeError(f"{proto_root} not found: build domainlm-chassis from the workspace checkout")
        # The generated files are git-ignored, and hatchling leaves ignored files out unless told.
        build_data["artifacts"].append(f"/src/{PACKAGE.as_posix()}/")
