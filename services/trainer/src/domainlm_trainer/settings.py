"""The trainer service's settings, from the environment (DOMAINLM_TRAINER_*).

Structured values (node selector, tolerations, command) are JSON in the environment, e.g.
DOMAINLM_TRAINER_TOLERATIONS='[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]'.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cli() -> str:
    return str(Path(sys.executable).with_name("domainlm"))


class TrainerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_TRAINER_")

    grpc_port: int = Field(50051, ge=1, description="gRPC port (TrainerService and health)")
    metrics_port: int = Field(9100, ge=0, description="Prometheus /metrics port; 0 turns it off")
    backend: Literal["local", "kubernetes"] = "local"
    runs_dir: Path = Field(Path("runs/trainer"), description="local backend: one directory per run")
    registry_dir: Path = Field(
        Path("runs/registry"), description="local publishing: REG/NAME/vNNNN model directories"
    )
    eval_file: Path | None = Field(
        None,
        description="local publishing: held-out questions; a model must beat its base and the current one",
    )
    min_gain: float = Field(0.0, description="local publishing: the margin the gate asks for")
    local_vllm_port: int = Field(
        0, ge=0, description="local publishing: restart the local vLLM server on this port on the new version"
    )
    local_vllm_enforce_eager: bool = Field(
        False, description="no CUDA graphs / compilation (faster start on CPU)"
    )
    cli: str = Field(default_factory=_default_cli, description="the `domainlm` CLI the local backend runs")
    served_model_name: str = Field("domainlm", description="the public model name (vLLM --served-model-name)")

    # training defaults (a run's config overrides them)
    sft_epochs: float = 3.0
    sft_lr: float = 2e-5
    dpo_epochs: float = 1.0
    dpo_lr: float = 5e-7

    # kubernetes
    namespace: str = "default"
    kubeconfig: str | None = Field(None, description="a kubeconfig file; in-cluster config when unset")
    image: str = Field("domainlm-trainer:0.1.0", description="the training container's image")
    command: list[str] = Field(
        default_factory=lambda: ["domainlm"], description="the container's CLI (JSON list)"
    )
    gpus: int = Field(1, ge=0, description="nvidia.com/gpu per node")
    cpu: str = ""
    memory: str = ""
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    pvc: str = Field("", description="PersistentVolumeClaim for data and checkpoints; emptyDir when empty")
    data_mount: str = Field("/data", description="where the data volume is mounted in the container")
    output_uri: str = Field(
        "",
        description="s3://BUCKET/PREFIX: models uploaded there (RUN/model) after training; for emptyDir volumes",
    )
    object_store_image: str = Field(
        "amazon/aws-cli:2.22.35", description="image with the aws CLI (fetch/upload)"
    )
    object_store_endpoint: str = Field(
        "", description="AWS_ENDPOINT_URL for S3-compatible stores (MinIO, ...)"
    )
    object_store_secret: str = Field(
        "", description="Secret with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (envFrom)"
    )
    backoff_limit: int = Field(3, ge=0)
    active_deadline_seconds: int = Field(24 * 3600, ge=1)
    ttl_seconds_after_finished: int | None = None
    fail_job_exit_codes: list[int] = Field(
        default_factory=lambda: [1], description="trainer exit codes that fail the Job at once (bad config)"
    )
    deepspeed: str = Field(
        "zero3", description="`domainlm train --deepspeed` for runs on several GPUs; empty: plain DDP"
    )
    service_account: str = ""
    rendezvous_port: int = 29500
    # publishing on kubernetes: the vLLM Deployment
    vllm_deployment: str = "vllm"
    vllm_container: str = "vllm"
    vllm_url: str = Field("", description="the vLLM server's base URL, to check /v1/models after a rollout")
    rollout_timeout: float = 600.0

    poll_seconds: float = 2.0
