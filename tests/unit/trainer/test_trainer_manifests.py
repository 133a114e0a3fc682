"""The Job, Service and Deployment patch the Kubernetes backend sends, as the API server receives them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any, ClassVar

from kubernetes import client as k8s

from domainlm_trainer.kube import (
    CONTAINER,
    MODEL_DIR,
    MODEL_HISTORY,
    DeploymentPublisher,
    job_status,
    model_patch,
    models_listed,
    pod_failure,
    rendezvous_service,
    rollout_complete,
    training_job,
)
from domainlm_trainer.runs import RunConfig, RunSpec
from domainlm_trainer.settings import TrainerSettings

TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _settings(**kw: Any) -> TrainerSettings:
    base: dict[str, Any] = dict(
        namespace="ml", image="registry.local/domainlm:1", gpus=8, node_selector={"gpu": "h100"},
        tolerations=[TOLERATION], pvc="train-data", backoff_limit=4, active_deadline_seconds=7200,
    )  # fmt: skip
    return TrainerSettings(**{**base, **kw})


def _spec(nodes: int = 1, gpus: int = 8, dpo: str = "file:///data/snap/dpo.jsonl") -> RunSpec:
    config = RunConfig(base_model="/data/models/base", gpus=gpus, nodes=nodes, cpu="16", memory="200Gi")
    return RunSpec("run-1", "file:///data/snap/sft.jsonl", dpo, config, "kubernetes")


def _ser(obj: Any) -> Any:
    return k8s.ApiClient().sanitize_for_serialization(obj)


def test_single_node_job() -> None:
    job = _ser(training_job(_spec(), _settings()))
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["name"] == "train-run-1" and job["metadata"]["namespace"] == "ml"
    spec = job["spec"]
    assert spec["backoffLimit"] == 4 and spec["activeDeadlineSeconds"] == 7200
    assert "completionMode" not in spec and "completions" not in spec
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeSelector"] == {"gpu": "h100"}
    assert pod["tolerations"] == [TOLERATION]
    [c] = pod["containers"]
    assert c["name"] == CONTAINER and c["image"] == "registry.local/domainlm:1"
    assert c["resources"]["limits"] == {"nvidia.com/gpu": "8", "memory": "200Gi"}
    assert c["resources"]["requests"] == {"nvidia.com/gpu": "8", "cpu": "16", "memory": "200Gi"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "train-data"}
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    script = c["command"][2]
    assert c["command"][:2] == ["/bin/sh", "-c"]
    # one GPU box with 8 GPUs: torchrun over the local GPUs; SFT then DPO from the SFT model
    assert "torchrun --no-python --nnodes=1 --nproc-per-node=8" in script
    assert script.count("--deepspeed zero3") == 2
    sft, dpo = script.index(" train sft "), script.index(" train dpo ")
    assert sft < dpo
    assert "--model /data/models/base --data /data/snap/sft.jsonl --output /data/runs/run-1/sft" in script
    assert (
        "--model /data/runs/run-1/sft --data /data/snap/dpo.jsonl --output /data/runs/run-1/model" in script
    )
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["DOMAINLM_SFT_DATA_URI"] == "file:///data/snap/sft.jsonl" and "MASTER_ADDR" not in env


def test_pod_failure_policy() -> None:
    rules = _ser(training_job(_spec(), _settings()))["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": CONTAINER, "operator": "In", "values": [1]},
    }
    assert rules[1] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }


def test_multi_node_indexed_job_and_headless_service() -> None:
    settings = _settings()
    job = _ser(training_job(_spec(nodes=4), settings))
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 4
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == "train-run-1"
    [c] = pod["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["MASTER_ADDR"] == "train-run-1-0.train-run-1.ml.svc"  # the index-0 pod's hostname
    assert env["MASTER_PORT"] == "29500"
    assert '--nnodes=4 --nproc-per-node=8 --node-rank="${JOB_COMPLETION_INDEX:-0}"' in c["command"][2]
    svc = _ser(rendezvous_service(_spec(nodes=4), settings))
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    assert svc["spec"]["selector"] == {"batch.kubernetes.io/job-name": "train-run-1"}


def test_empty_dir_without_pvc_and_sft_only_on_one_gpu() -> None:
    job = _ser(training_job(_spec(gpus=1, dpo=""), _settings(pvc="", tolerations=[], node_selector={})))
    pod = job["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    assert "tolerations" not in pod and "nodeSelector" not in pod
    script = pod["containers"][0]["command"][2]
    assert "torchrun" not in script and " train dpo " not in script and "--deepspeed" not in script


def _job(**status: Any) -> k8s.V1Job:
    conds = [
        k8s.V1JobCondition(type=t, status="True", reason=r, message=m) for t, r, m in status.pop("conds", [])
    ]
    return k8s.V1Job(status=k8s.V1JobStatus(conditions=conds or None, **status))


def test_job_status_to_run_state() -> None:
    assert job_status(_job()).state == "pending"
    assert job_status(_job(active=2)).state == "running"
    assert job_status(_job(conds=[("Complete", None, None)], succeeded=1)).state == "succeeded"
    failed = job_status(
        _job(conds=[("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")])
    )
    assert failed.state == "failed" and failed.message.startswith("BackoffLimitExceeded: Job has reached")
    assert job_status(_job(conds=[("FailureTarget", "PodFailurePolicy", "exit 1")])).state == "failed"


def test_pod_failure_reason() -> None:
    term = k8s.V1ContainerStateTerminated(exit_code=1, reason="Error", message="bad config")
    pod = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="train-run-1-abc"),
        status=k8s.V1PodStatus(
            phase="Failed",
            container_statuses=[
                k8s.V1ContainerStatus(
                    name=CONTAINER,
                    state=k8s.V1ContainerState(terminated=term),
                    image="i",
                    image_id="",
                    ready=False,
                    restart_count=0,
                )
            ],
        ),
    )
    assert pod_failure(pod) == "pod train-run-1-abc: trainer exited 1 (Error): bad config"


def _deployment(args: list[str], **status: Any) -> k8s.V1Deployment:
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name="vllm", generation=status.pop("generation", 1)),
        spec=k8s.V1DeploymentSpec(
            replicas=2,
            selector=k8s.V1LabelSelector(match_labels={"app": "vllm"}),
            template=k8s.V1PodTemplateSpec(
                spec=k8s.V1PodSpec(
                    containers=[k8s.V1Container(name="vllm", image="vllm/vllm-openai", args=args)]
                )
            ),
        ),
        status=k8s.V1DeploymentStatus(**status) if status else None,
    )


def test_model_patch_keeps_the_public_name() -> None:
    dep = _deployment(
        ["--model", "/data/runs/run-0/model", "--served-model-name", "domainlm", "--port", "8000"]
    )
    patch = model_patch(
        dep,
        "vllm",
        "/data/runs/run-1/model",
        "domainlm",
        ["/data/runs/run-0/model", "/data/runs/run-1/model"],
    )
    [c] = patch["spec"]["template"]["spec"]["containers"]
    assert c == {
        "name": "vllm",
        "args": ["--model", "/data/runs/run-1/model", "--served-model-name", "domainlm", "--port", "8000"],
    }
    assert patch["spec"]["template"]["metadata"]["annotations"][MODEL_DIR] == "/data/runs/run-1/model"
    assert (
        patch["metadata"]["annotations"][MODEL_HISTORY]
        == '["/data/runs/run-0/model", "/data/runs/run-1/model"]'
    )
    # the --flag=value form, and a missing served name added
    dep = _deployment(["--model=/m/a"])
    args = model_patch(dep, "vllm", "/m/b", "domainlm", [])["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]
    assert args == ["--model=/m/b", "--served-model-name", "domainlm"]


def test_rollout_complete() -> None:
    args = ["--model", "/m"]
    assert not rollout_complete(_deployment(args))[0]
    assert not rollout_complete(_deployment(args, generation=2, observed_generation=1))[0]
    assert not rollout_complete(_deployment(args, observed_generation=1, replicas=3, updated_replicas=2))[0]
    assert not rollout_complete(
        _deployment(args, observed_generation=1, replicas=2, updated_replicas=2, available_replicas=1)
    )[0]
    assert rollout_complete(
        _deployment(args, observed_generation=1, replicas=2, updated_replicas=2, available_replicas=2)
    ) == (True, "rollout complete")


def test_settings_from_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("DOMAINLM_TRAINER_BACKEND", "kubernetes")
    monkeypatch.setenv("DOMAINLM_TRAINER_TOLERATIONS", '[{"key": "nvidia.com/gpu", "operator": "Exists"}]')
    monkeypatch.setenv("DOMAINLM_TRAINER_NODE_SELECTOR", '{"gpu": "h100"}')
    monkeypatch.setenv("DOMAINLM_TRAINER_GPUS", "4")
    s = TrainerSettings()
    assert s.backend == "kubernetes" and s.gpus == 4 and s.node_selector == {"gpu": "h100"}
    assert s.tolerations == [{"key": "nvidia.com/gpu", "operator": "Exists"}]


def test_object_storage_inputs_and_output_on_an_empty_dir() -> None:
    settings = _settings(
        pvc="", output_uri="s3://models/domainlm/", object_store_endpoint="http://minio:9000",
        object_store_secret="s3-credentials",
    )  # fmt: skip
    s = RunSpec("run-1", "s3://data/snap/sft.jsonl", "s3://data/snap/dpo.jsonl", RunConfig(base_model="/m"))
    pod = _ser(training_job(s, settings))["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    fetch, trainer = pod["initContainers"]
    [upload] = pod["containers"]
    assert (fetch["name"], trainer["name"], upload["name"]) == ("fetch", CONTAINER, "upload")
    assert fetch["image"] == upload["image"] == "amazon/aws-cli:2.22.35"
    assert fetch["env"] == [{"name": "AWS_ENDPOINT_URL", "value": "http://minio:9000"}]
    assert fetch["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    assert "aws s3 cp s3://data/snap/sft.jsonl /data/runs/run-1/input/sft.jsonl" in fetch["command"][2]
    assert "aws s3 cp s3://data/snap/dpo.jsonl /data/runs/run-1/input/dpo.jsonl" in fetch["command"][2]
    script = trainer["command"][2]
    assert (
        "--data /data/runs/run-1/input/sft.jsonl" in script
        and "--data /data/runs/run-1/input/dpo.jsonl" in script
    )
    assert (
        "aws s3 sync --no-progress /data/runs/run-1/model s3://models/domainlm/run-1/model"
        in upload["command"][2]
    )
    assert all({"name": "data", "mountPath": "/data"} in c["volumeMounts"] for c in (fetch, trainer, upload))
    # the exit-code rule still names the trainer (an init container now)
    rule = _ser(training_job(s, settings))["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["onExitCodes"]["containerName"] == CONTAINER


class _Models(BaseHTTPRequestHandler):
    names: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        body = json.dumps(
            {"object": "list", "data": [{"id": n, "object": "model"} for n in self.names]}
        ).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_ready_only_when_v1_models_lists_the_name() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        done = _deployment(
            ["--model", "/m"], observed_generation=1, replicas=2, updated_replicas=2, available_replicas=2
        )
        publisher = DeploymentPublisher(_settings(vllm_url=url), k8s.ApiClient())
        publisher.apps = SimpleNamespace(read_namespaced_deployment=lambda name, ns: done)  # type: ignore[assignment]
        _Models.names = ["other"]
        assert models_listed(url, "domainlm") is False
        assert publisher.wait_ready("domainlm", timeout=0.3, poll=0.1) == (
            False, "rollout complete but /v1/models does not list 'domainlm' yet"
        )  # fmt: skip
        _Models.names = ["domainlm"]
        assert models_listed(url, "domainlm") is True
        assert publisher.wait_ready("domainlm", timeout=5) == (True, "rollout complete")
    finally:
        server.shutdown()
        server.server_close()
    # unreachable: the rollout decides, and the message says the check could not be made
    assert models_listed(url, "domainlm") is None
    ready, message = publisher.wait_ready("domainlm", timeout=1)
    assert ready and "not reachable" in message
