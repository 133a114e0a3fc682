"""The chart installed into a real kube-apiserver (RBAC on; no kubelet, so nothing runs): the release's
objects exist, `helm upgrade` and `helm rollback` work, and the trainer, with the token of the chart's
ServiceAccount and the settings the chart gives its Deployment, creates Jobs and publishes to the chart's
serving Deployment, and is refused anything else."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from kubeapi import KubeApi, complete_rollouts
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from setupscripts import setup_script

from corpus import ROOT
from domainlm_trainer.kube import DeploymentPublisher, KubernetesBackend, job_name
from domainlm_trainer.publish import KubernetesPublisher
from domainlm_trainer.runs import RunConfig, RunSpec
from domainlm_trainer.settings import TrainerSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHART = ROOT / "k8s" / "domainlm"
NS, RELEASE = "domainlm", "dlm"
SERVING = f"{RELEASE}-domainlm-serving"


@pytest.fixture(scope="module")
def helm_bin() -> Path:
    return setup_script("setup-helm.sh") / "helm"


@pytest.fixture(scope="module")
def helm(helm_bin: Path, kube: KubeApi, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("helm")
    config = kube.kubeconfig(home / "kubeconfig")
    env = {"KUBECONFIG": str(config), "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
           "HELM_DATA_HOME": str(home / "data"), "PATH": "/usr/bin:/bin"}  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(helm_bin), *args], capture_output=True, text=True, timeout=180, env=env)

    return run


@pytest.fixture(scope="module")
def installed(helm: Any, kube: KubeApi) -> subprocess.CompletedProcess[str]:
    done = helm("install", RELEASE, str(CHART), "-n", NS, "--create-namespace",
                "-f", str(CHART / "ci" / "bundled-values.yaml"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_install_creates_the_release_objects(
    installed: subprocess.CompletedProcess[str], kube: KubeApi
) -> None:
    assert (
        "helm test dlm" in installed.stdout
        and "curl -s localhost:8000/v1/chat/completions" in installed.stdout
    )
    apps, core = k8s.AppsV1Api(kube.client), k8s.CoreV1Api(kube.client)
    deployments = {d.metadata.name for d in apps.list_namespaced_deployment(NS).items}
    expected = {f"{RELEASE}-domainlm-{n}" for n in
                ("ocr", "generator", "review", "dedup", "evolver", "trainer", "teacher", "serving")}  # fmt: skip
    assert deployments == expected
    assert {s.metadata.name for s in apps.list_namespaced_stateful_set(NS).items} == {
        f"{RELEASE}-domainlm-{n}" for n in ("kafka", "redis", "postgres")
    }
    claims = {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(NS).items}
    assert f"{RELEASE}-domainlm-models" in claims
    policies = k8s.NetworkingV1Api(kube.client).list_namespaced_network_policy(NS).items
    assert len(policies) >= 8
    pdbs = k8s.PolicyV1Api(kube.client).list_namespaced_pod_disruption_budget(NS).items
    assert len(pdbs) == 5
    secret = core.read_namespaced_secret(f"{RELEASE}-domainlm", NS)
    assert {"redis-password", "postgres-password"} <= set(secret.data)


def test_upgrade_and_rollback(installed: subprocess.CompletedProcess[str], helm: Any, kube: KubeApi) -> None:
    apps, core = k8s.AppsV1Api(kube.client), k8s.CoreV1Api(kube.client)
    generator = f"{RELEASE}-domainlm-generator"
    password = core.read_namespaced_secret(f"{RELEASE}-domainlm", NS).data["postgres-password"]
    assert apps.read_namespaced_deployment(generator, NS).spec.replicas == 1
    up = helm("upgrade", RELEASE, str(CHART), "-n", NS, "--reuse-values", "--set", "generator.replicas=3")
    assert up.returncode == 0, up.stderr
    assert apps.read_namespaced_deployment(generator, NS).spec.replicas == 3
    # the generated store password is kept across upgrades (read back from the release's Secret)
    assert core.read_namespaced_secret(f"{RELEASE}-domainlm", NS).data["postgres-password"] == password
    bad = helm("upgrade", RELEASE, str(CHART), "-n", NS, "--reuse-values", "--set", "generator.replicas=-2")
    assert bad.returncode != 0 and "minimum" in bad.stderr
    back = helm("rollback", RELEASE, "1", "-n", NS)
    assert back.returncode == 0, back.stderr
    assert apps.read_namespaced_deployment(generator, NS).spec.replicas == 1
    history = json.loads(helm("history", RELEASE, "-n", NS, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2, 3] and history[-1]["description"] == "Rollback to 1"


def trainer_settings(kube: KubeApi, config: Path) -> TrainerSettings:
    """The settings the chart gives the trainer's container, as it would read them from its environment."""
    apps = k8s.AppsV1Api(kube.client)
    [c] = apps.read_namespaced_deployment(f"{RELEASE}-domainlm-trainer", NS).spec.template.spec.containers
    env = {e.name: e.value for e in c.env if e.value is not None}
    env["DOMAINLM_TRAINER_NAMESPACE"] = NS  # the downward API's metadata.namespace
    env["DOMAINLM_TRAINER_KUBECONFIG"] = str(config)  # in a pod: the mounted token, here a file with it
    fields = {
        k.removeprefix("DOMAINLM_TRAINER_").lower(): v
        for k, v in env.items()
        if k.startswith("DOMAINLM_TRAINER_")
    }
    return TrainerSettings.model_validate({k: json.loads(v) if k in ("node_selector", "tolerations") else v
                                           for k, v in fields.items()})  # fmt: skip


def test_the_trainer_with_the_charts_token_may_do_its_job_and_nothing_else(
    installed: subprocess.CompletedProcess[str], kube: KubeApi, tmp_path: Path
) -> None:
    token = kube.service_account_token(NS, f"{RELEASE}-domainlm-trainer")
    config = kube.kubeconfig(tmp_path / "trainer.kubeconfig", token, NS)
    settings = trainer_settings(kube, config)
    assert settings.vllm_deployment == SERVING and settings.backend == "kubernetes"
    from domainlm_trainer.__main__ import build  # what the service's main runs, with these settings

    servicer = build(settings)
    assert servicer is not None
    api = kube.client_for(token)
    backend = KubernetesBackend(settings, api)
    batch, apps, core = k8s.BatchV1Api(api), k8s.AppsV1Api(api), k8s.CoreV1Api(api)

    # Its job: training Jobs (and a multi-node one's headless Service), followed and cancelled.
    single = RunSpec(
        "chart-1",
        "/data/snap/sft.jsonl",
        "/data/snap/dpo.jsonl",
        RunConfig(base_model="/data/base"),
        "kubernetes",
    )
    assert backend.submit(single).state == "pending"
    job = batch.read_namespaced_job(job_name(single), NS)
    pod = job.spec.template.spec
    assert pod.service_account_name == f"{RELEASE}-domainlm-training"
    assert pod.volumes[0].persistent_volume_claim.claim_name == f"{RELEASE}-domainlm-models"
    multi = RunSpec(
        "chart-4", "/data/s.jsonl", "/data/d.jsonl", RunConfig(base_model="/data/base", nodes=2), "kubernetes"
    )
    backend.submit(multi)
    assert core.read_namespaced_service(job_name(multi), NS).spec.cluster_ip == "None"
    assert backend.cancel(multi).state == "cancelled"
    assert backend.status(single).state == "pending"

    # ...and publishing: the serving Deployment patched to the new model directory, the name kept.
    stop = threading.Event()
    controller = threading.Thread(
        target=complete_rollouts, args=(k8s.AppsV1Api(kube.client), NS, SERVING, stop)
    )
    controller.start()
    try:
        pub = KubernetesPublisher(DeploymentPublisher(settings, api)).publish(
            "/data/registry/domainlm/v0002", "domainlm", wait=30
        )
    finally:
        stop.set()
        controller.join()
    assert pub.ready, pub.message
    served = apps.read_namespaced_deployment(SERVING, NS).spec.template.spec.containers[0].args
    assert served[:4] == ["--model", "/data/registry/domainlm/v0002", "--served-model-name", "domainlm"]

    # Anything else is refused by the API server.
    forbidden = [
        lambda: batch.create_namespaced_job("default", batch.read_namespaced_job(job_name(single), NS)),
        lambda: apps.delete_namespaced_deployment(SERVING, NS),
        lambda: apps.patch_namespaced_deployment(
            f"{RELEASE}-domainlm-teacher", NS, {"spec": {"replicas": 0}}
        ),
        lambda: apps.list_namespaced_deployment(NS),
        lambda: core.read_namespaced_secret(f"{RELEASE}-domainlm", NS),
        lambda: k8s.RbacAuthorizationV1Api(api).list_cluster_role(),
        lambda: core.list_node(),
    ]
    for attempt in forbidden:
        with pytest.raises(ApiException) as e:
            attempt()
        assert e.value.status == 403, e.value.body
