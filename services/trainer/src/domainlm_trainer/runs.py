"""Runs, their states, and the interface every backend implements."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

STATES = ("pending", "running", "succeeded", "failed", "cancelled")
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
RUN_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")  # a DNS label, short enough for pod names


class RunNotFound(KeyError):
    pass


class RunExists(ValueError):
    pass


def new_run_id() -> str:
    return f"run-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


@dataclass
class RunConfig:
    base_model: str
    sft_epochs: float = 3.0
    sft_lr: float = 2e-5
    dpo_epochs: float = 1.0
    dpo_lr: float = 5e-7
    max_steps: int = 0
    gpus: int = 1
    nodes: int = 1
    cpu: str = ""
    memory: str = ""


@dataclass
class RunSpec:
    id: str
    sft_data: str
    dpo_data: str  # empty: SFT only
    config: RunConfig
    backend: str = "local"
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**{**data, "config": RunConfig(**data["config"])})


@dataclass
class RunStatus:
    state: str  # one of STATES
    stage: str = ""
    message: str = ""
    model_dir: str = ""

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def local_path(uri: str) -> str:
    """A file:// URI or a plain path as a path."""
    return uri.removeprefix("file://")


def train_args(
    spec: RunSpec, sft_data: str, sft_out: str, dpo_data: str, model_out: str
) -> dict[str, list[str]]:
    """A run's `domainlm` arguments per stage, in order: `train sft` from the base model, then (when the
    run has DPO data) `train dpo` from the SFT model. Both backends run these; only the paths differ."""
    c = spec.config
    steps = ["--max-steps", str(c.max_steps)] if c.max_steps > 0 else []
    stages = {
        "sft": ["train", "sft", "--model", local_path(c.base_model), "--data", sft_data, "--output", sft_out,
                "--epochs", str(c.sft_epochs), "--lr", str(c.sft_lr), *steps],
    }  # fmt: skip
    if spec.dpo_data:
        stages["dpo"] = ["train", "dpo", "--model", sft_out, "--data", dpo_data, "--output", model_out,
                         "--epochs", str(c.dpo_epochs), "--lr", str(c.dpo_lr), *steps]  # fmt: skip
    return stages


class Backend(Protocol):
    """Where runs execute. Every method takes the run's spec (the service keeps them)."""

    name: str

    def submit(self, spec: RunSpec) -> RunStatus: ...

    def status(self, spec: RunSpec) -> RunStatus: ...

    def cancel(self, spec: RunSpec) -> RunStatus: ...

    def logs(self, spec: RunSpec, tail: int) -> list[str]: ...
