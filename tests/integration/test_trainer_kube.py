"""The trainer's Kubernetes backend against a real API server (tests/kubeapi.py: kube-apiserver with
etcd, no kubelet and no controllers; the tests write Job and Deployment status as controllers would)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from grpcutil import serving
from kubeapi import KubeApi, complete_rollouts
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from domainlm_chassis.protos.domainlm.v1 import trainer_pb2 as pb
from domainlm_chassis.protos.domainlm.v1 import trainer_pb2_grpc
from domainlm_trainer.kube import MODEL_DIR, MODEL_HISTORY, DeploymentPublisher, KubernetesBackend, job_name
from domainlm_trainer.publish import KubernetesPublisher
from domainlm_trainer.runs import RunConfig, RunSpec
from domainlm_trainer.servicer import TrainerServicer
from domainlm_trainer.settings import TrainerSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NS = "default"


@pytest.fixture(scope="module")
def api(kube: KubeApi) -> k8s.ApiClient:
    return kube.client


def _settings() -> TrainerSettings:
    return TrainerSettings(
        backend="kubernetes", namespace=NS, image="registry.local/domainlm-trainer:1", gpus=8,
        node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        pvc="domainlm-data", backoff_limit=2, active_deadline_seconds=3600,
        vllm_deployment="vllm", vllm_container="vllm", rollout_timeout=30,
    )  # fmt: skip


def _spec(run_id: str, nodes: int = 1) -> RunSpec:
    config = RunConfig(base_model="/data/models/base", gpus=8, nodes=nodes, memory="200Gi")
    return RunSpec(run_id, "/data/snap/sft.jsonl", "/data/snap/dpo.jsonl", config, "kubernetes")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _cond(kind: str, reason: str = "", message: str = "") -> k8s.V1JobCondition:
    t = _now()
    return k8s.V1JobCondition(type=kind, status="True", reason=reason or None, message=message or None,
                              last_probe_time=t, last_transition_time=t)  # fmt: skip


def _write_job_status(batch: k8s.BatchV1Api, name: str, **status: Any) -> None:
    """What the Job controller would write, through the status subresource."""
    job = batch.read_namespaced_job_status(name, NS)
    job.status = k8s.V1JobStatus(**status)
    batch.replace_namespaced_job_status(name, NS, job)


def test_jobs_are_accepted(api: k8s.ApiClient) -> None:
    backend = KubernetesBackend(_settings(), api)
    batch, core = k8s.BatchV1Api(api), k8s.CoreV1Api(api)
    assert backend.submit(_spec("accept-1")).state == "pending"
    job = batch.read_namespaced_job(job_name(_spec("accept-1")), NS)
    rules = job.spec.pod_failure_policy.rules
    assert [r.action for r in rules] == ["FailJob", "Ignore"]
    assert rules[0].on_exit_codes.values == [1] and rules[0].on_exit_codes.container_name == "trainer"
    assert rules[1].on_pod_conditions[0].type == "DisruptionTarget"
    assert job.spec.backoff_limit == 2 and job.spec.active_deadline_seconds == 3600
    assert job.spec.completion_mode == "NonIndexed"  # the server's default
    pod = job.spec.template.spec
    assert pod.containers[0].resources.limits["nvidia.com/gpu"] == "8"
    assert pod.volumes[0].persistent_volume_claim.claim_name == "domainlm-data"
    assert pod.tolerations[0].key == "nvidia.com/gpu"

    multi = _spec("accept-4n", nodes=4)
    backend.submit(multi)
    job = batch.read_namespaced_job(job_name(multi), NS)
    assert job.spec.completion_mode == "Indexed" and job.spec.completions == job.spec.parallelism == 4
    assert job.spec.template.spec.subdomain == job_name(multi)
    svc = core.read_namespaced_service(job_name(multi), NS)
    assert svc.spec.cluster_ip == "None"

    # object storage on an emptyDir: fetch and train as init containers, upload as the pod's container
    store = _settings().model_copy(
        update={"pvc": "", "output_uri": "s3://models/domainlm", "object_store_secret": "s3"}
    )
    s3 = RunSpec(
        "accept-s3", "s3://data/sft.jsonl", "s3://data/dpo.jsonl", RunConfig(base_model="/m"), "kubernetes"
    )
    assert KubernetesBackend(store, api).submit(s3).model_dir == "s3://models/domainlm/accept-s3/model"
    job = batch.read_namespaced_job(job_name(s3), NS)
    assert [c.name for c in job.spec.template.spec.init_containers] == ["fetch", "trainer"]
    assert [c.name for c in job.spec.template.spec.containers] == ["upload"]
    assert job.spec.pod_failure_policy.rules[0].on_exit_codes.container_name == "trainer"

    # the server refuses what it must: a pod failure policy needs restartPolicy Never
    bad = batch.read_namespaced_job(job_name(multi), NS)
    bad.metadata = k8s.V1ObjectMeta(name="bad-policy", namespace=NS)
    bad.spec.selector = None
    bad.spec.template.metadata.labels = {"app": "x"}
    bad.spec.template.spec.restart_policy = "OnFailure"
    with pytest.raises(ApiException) as e:
        batch.create_namespaced_job(NS, bad)
    assert e.value.status == 422 and "podFailurePolicy" in str(e.value.body)


def _failed_pod(core: k8s.CoreV1Api, job: str, exit_code: int, message: str) -> None:
    """A pod of the Job as the Job controller would have made it, failed as a kubelet would report."""
    try:  # the ServiceAccount admission plugin wants the namespace's default account (no controller makes it)
        core.create_namespaced_service_account(
            NS, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="default"))
        )
    except ApiException as e:
        if e.status != 409:
            raise
    name = f"{job}-0"
    pod = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, labels={"batch.kubernetes.io/job-name": job}),
        spec=k8s.V1PodSpec(restart_policy="Never", containers=[k8s.V1Container(name="trainer", image="i")]),
    )
    core.create_namespaced_pod(NS, pod)
    pod = core.read_namespaced_pod_status(name, NS)
    term = k8s.V1ContainerStateTerminated(exit_code=exit_code, reason="Error", message=message)
    pod.status = k8s.V1PodStatus(
        phase="Failed",
        container_statuses=[
            k8s.V1ContainerStatus(
                name="trainer",
                image="i",
                image_id="",
                ready=False,
                restart_count=0,
                state=k8s.V1ContainerState(terminated=term),
            )
        ],
    )
    core.replace_namespaced_pod_status(name, NS, pod)


def test_job_status_is_followed_through_the_service(api: k8s.ApiClient, tmp_path: Path) -> None:
    settings = _settings().model_copy(update={"runs_dir": tmp_path / "runs"})
    backend = KubernetesBackend(settings, api)
    batch = k8s.BatchV1Api(api)
    publisher = KubernetesPublisher(DeploymentPublisher(settings, api))
    with serving(TrainerServicer(settings, {"kubernetes": backend}, publisher)) as channel:
        stub = trainer_pb2_grpc.TrainerServiceStub(channel)

        def start(run_id: str) -> pb.Run:
            request = pb.StartRunRequest(
                sft_data_uri="/data/snap/sft.jsonl", dpo_data_uri="/data/snap/dpo.jsonl", run_id=run_id,
                config=pb.TrainingConfig(base_model="/data/models/base", backend="kubernetes"),
            )  # fmt: skip
            return stub.StartRun(request, timeout=30).run

        def state(run_id: str) -> tuple[str, str]:
            run = stub.GetRun(pb.GetRunRequest(id=run_id), timeout=30).run
            return run.state, run.message

        assert start("follow-ok").state == "pending"
        name = "train-follow-ok"
        started = _now()
        _write_job_status(batch, name, active=1, start_time=started)
        assert state("follow-ok")[0] == "running"
        _write_job_status(
            batch, name, succeeded=1, start_time=started, completion_time=_now(),
            conditions=[_cond("SuccessCriteriaMet", "CompletionsReached"), _cond("Complete", "CompletionsReached")],
        )  # fmt: skip
        assert state("follow-ok")[0] == "succeeded"
        events = list(stub.WatchRun(pb.WatchRunRequest(id="follow-ok", poll_seconds=0.2), timeout=30))
        assert events[-1].run.state == "succeeded"
        assert events[-1].run.model_dir == "/data/runs/follow-ok/model"
        # a finished run is not cancelled (its Job stays), and its state outlives the Job (TTL deletion)
        assert stub.CancelRun(pb.CancelRunRequest(id="follow-ok"), timeout=30).run.state == "succeeded"
        assert batch.read_namespaced_job(name, NS).metadata.deletion_timestamp is None
        batch.delete_namespaced_job(name, NS, propagation_policy="Background")
        assert state("follow-ok")[0] == "succeeded"

        start("follow-bad")
        name = "train-follow-bad"
        _write_job_status(batch, name, active=1, start_time=started)
        watched: list[str] = []

        def watch() -> None:
            for e in stub.WatchRun(pb.WatchRunRequest(id="follow-bad", poll_seconds=0.2), timeout=60):
                watched.append(e.run.state)

        _failed_pod(k8s.CoreV1Api(api), name, exit_code=1, message="unknown option --lr=abc")
        t = threading.Thread(target=watch)
        t.start()
        time.sleep(1.0)
        message = "Container trainer for pod default/train-follow-bad-x failed with exit code 1 matching FailJob rule"
        _write_job_status(
            batch, name, failed=1, start_time=started,
            conditions=[_cond("FailureTarget", "PodFailurePolicy", message), _cond("Failed", "PodFailurePolicy", message)],
        )  # fmt: skip
        t.join(timeout=60)
        assert watched[0] == "running" and watched[-1] == "failed"
        st, msg = state("follow-bad")
        assert st == "failed" and msg.startswith("PodFailurePolicy: Container trainer")
        # the pod's own failure reason is surfaced beside the Job's
        assert msg.endswith("; pod train-follow-bad-0: trainer exited 1 (Error): unknown option --lr=abc")
        # no node ran the pod (the server answers 204 for its log): no lines, and no error
        assert stub.GetRun(pb.GetRunRequest(id="follow-bad", log_lines=20), timeout=30).log_lines == []

        # cancel: the Job is deleted in the foreground (no garbage collector runs here, so it stays,
        # marked for deletion with the foregroundDeletion finalizer)
        start("follow-cancel")
        cancelled = stub.CancelRun(pb.CancelRunRequest(id="follow-cancel"), timeout=30).run
        assert cancelled.state == "cancelled"
        try:
            job = batch.read_namespaced_job("train-follow-cancel", NS)
            assert job.metadata.deletion_timestamp is not None
            assert "foregroundDeletion" in (job.metadata.finalizers or [])
        except ApiException as e:
            assert e.status == 404
        assert state("follow-cancel")[0] == "cancelled"


def _vllm_deployment(model: str) -> k8s.V1Deployment:
    labels = {"app": "vllm"}
    return k8s.V1Deployment(
        api_version="apps/v1", kind="Deployment",
        metadata=k8s.V1ObjectMeta(name="vllm", namespace=NS),
        spec=k8s.V1DeploymentSpec(
            replicas=2, selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(
                    name="vllm", image="vllm/vllm-openai:v0.11.0",
                    args=["--model", model, "--served-model-name", "domainlm", "--port", "8000"],
                )]),
            ),
        ),
    )  # fmt: skip


def test_publish_patches_the_deployment_and_rolls_back(api: k8s.ApiClient) -> None:
    apps = k8s.AppsV1Api(api)
    apps.create_namespaced_deployment(NS, _vllm_deployment("/data/runs/run-0/model"))
    publisher = KubernetesPublisher(DeploymentPublisher(_settings(), api))

    # not ready while nothing completes the rollout
    pub = publisher.publish("/data/runs/run-1/model", "domainlm", wait=1.0)
    assert not pub.ready and "generation" in pub.message

    stop = threading.Event()
    controller = threading.Thread(target=complete_rollouts, args=(apps, NS, "vllm", stop))
    controller.start()
    try:
        pub = publisher.publish("/data/runs/run-2/model", "domainlm", wait=30)
        assert pub.ready and pub.message == "rollout complete"
        assert pub.previous_model_dir == "/data/runs/run-1/model" and pub.version == "run-2"
        dep = apps.read_namespaced_deployment("vllm", NS)
        [c] = dep.spec.template.spec.containers
        assert c.args == [
            "--model",
            "/data/runs/run-2/model",
            "--served-model-name",
            "domainlm",
            "--port",
            "8000",
        ]
        assert dep.spec.template.metadata.annotations[MODEL_DIR] == "/data/runs/run-2/model"
        assert dep.metadata.annotations[MODEL_HISTORY] == (
            '["/data/runs/run-0/model", "/data/runs/run-1/model", "/data/runs/run-2/model"]'
        )

        back = publisher.rollback("domainlm", wait=30)
        assert back.ready and back.model_dir == "/data/runs/run-1/model"
        assert back.previous_model_dir == "/data/runs/run-2/model"
        dep = apps.read_namespaced_deployment("vllm", NS)
        assert dep.spec.template.spec.containers[0].args[:2] == ["--model", "/data/runs/run-1/model"]
        assert dep.spec.template.spec.containers[0].args[3] == "domainlm"
    finally:
        stop.set()
        controller.join()
