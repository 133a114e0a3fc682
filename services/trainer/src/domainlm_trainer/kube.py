"""The Kubernetes backend: one batch/v1 Job per run (an indexed Job with a headless Service for
multi-node torchrun), followed through the Job's status; and publishing by patching the vLLM Deployment.

Manifests are built by plain functions (`training_job`, `rendezvous_service`, `model_patch`) so they can
be checked without a cluster; `KubernetesBackend` and `DeploymentPublisher` talk to the API server
through the official client.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from domainlm.training.publish import served_names
from domainlm.training.settings import SUMMARY
from domainlm_trainer.runs import RunSpec, RunStatus, local_path, train_args
from domainlm_trainer.settings import TrainerSettings

CONTAINER = "trainer"
LABEL_RUN = "domainlm.io/run"
LABEL_APP = "app.kubernetes.io/name"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # set by the Job controller on its pods
MODEL_HISTORY = "domainlm.io/model-history"  # JSON list of model directories served, oldest first
MODEL_DIR = "domainlm.io/model-dir"
VOLUME = "data"


def job_name(spec: RunSpec) -> str:
    return f"train-{spec.id}"


def is_object_uri(uri: str) -> bool:
    return uri.startswith("s3://")


def run_paths(spec: RunSpec, settings: TrainerSettings) -> dict[str, str]:
    """Where a run reads and writes inside the pod (on the data volume), and where its model ends up
    (`published`: the volume path, or the object-storage URI the model is uploaded to)."""
    root = f"{settings.data_mount.rstrip('/')}/runs/{spec.id}"
    paths = {"root": root, "sft": f"{root}/sft", "model": f"{root}/model" if spec.dpo_data else f"{root}/sft"}
    paths["sft_data"] = (
        f"{root}/input/sft.jsonl" if is_object_uri(spec.sft_data) else local_path(spec.sft_data)
    )
    paths["dpo_data"] = (
        f"{root}/input/dpo.jsonl" if is_object_uri(spec.dpo_data) else local_path(spec.dpo_data)
    )
    paths["published"] = (
        f"{settings.output_uri.rstrip('/')}/{spec.id}/model" if settings.output_uri else paths["model"]
    )
    return paths


def fetch_script(spec: RunSpec, settings: TrainerSettings) -> str | None:
    """The init container's script that copies object-storage inputs onto the volume (None: none)."""
    paths, q = run_paths(spec, settings), shlex.quote
    copies = [
        f"aws s3 cp {q(uri)} {q(paths[key])}"
        for uri, key in ((spec.sft_data, "sft_data"), (spec.dpo_data, "dpo_data"))
        if uri and is_object_uri(uri)
    ]
    return "\n".join(["set -eu", *copies]) + "\n" if copies else None


def upload_script(spec: RunSpec, settings: TrainerSettings) -> str:
    """After training: the model to object storage (from the index-0 pod only: rank 0 saves the model)."""
    paths, q = run_paths(spec, settings), shlex.quote
    return (
        "set -eu\n"
        'if [ "${JOB_COMPLETION_INDEX:-0}" = 0 ]; then\n'
        f"  aws s3 sync --no-progress {q(paths['model'])} {q(paths['published'])}\n"
        "fi\n"
    )


def train_script(spec: RunSpec, settings: TrainerSettings) -> str:
    """The container's shell script: SFT, then DPO from the SFT model (torchrun across nodes/GPUs)."""
    c, paths = spec.config, run_paths(spec, settings)
    cli = " ".join(shlex.quote(a) for a in settings.command)
    if c.nodes > 1 or c.gpus > 1:
        launcher = (
            f"torchrun --no-python --nnodes={c.nodes} --nproc-per-node={max(c.gpus, 1)} "
            f'--node-rank="${{JOB_COMPLETION_INDEX:-0}}" --master-addr="${{MASTER_ADDR:-127.0.0.1}}" '
            f'--master-port="${{MASTER_PORT:-{settings.rendezvous_port}}}" '
        )
    else:
        launcher = ""
    # several GPUs: ZeRO-3, 16-bit weights gathered on save
    extra = ["--deepspeed", settings.deepspeed] if launcher and settings.deepspeed else []
    args = train_args(spec, paths["sft_data"], paths["sft"], paths["dpo_data"], paths["model"])
    q = shlex.quote
    lines = ["set -eu", f"mkdir -p {q(paths['root'])}"]
    # a retried pod (preemption) resumes each stage from its last checkpoint on the volume and skips a
    # stage that already finished (its summary is written last)
    out = {"sft": paths["sft"], "dpo": paths["model"]}
    for stage, a in args.items():
        lines.append(f"[ -f {q(out[stage] + '/' + SUMMARY)} ] || {launcher}{cli} {shlex.join(a + extra)}")
    return "\n".join(lines) + "\n"


def _labels(spec: RunSpec) -> dict[str, str]:
    return {LABEL_APP: "domainlm-trainer", LABEL_RUN: spec.id}


def rendezvous_service(spec: RunSpec, settings: TrainerSettings) -> k8s.V1Service:
    """The headless Service that gives an indexed Job's pods stable DNS names (NAME-INDEX.SERVICE)."""
    name = job_name(spec)
    return k8s.V1Service(
        api_version="v1",
        kind="Service",
        metadata=k8s.V1ObjectMeta(name=name, namespace=settings.namespace, labels=_labels(spec)),
        spec=k8s.V1ServiceSpec(
            cluster_ip="None",
            selector={JOB_NAME_LABEL: name},
            publish_not_ready_addresses=True,  # rendezvous happens before any pod is ready
            ports=[k8s.V1ServicePort(name="rendezvous", port=settings.rendezvous_port)],
        ),
    )


def training_job(spec: RunSpec, settings: TrainerSettings) -> k8s.V1Job:
    c, name = spec.config, job_name(spec)
    resources: dict[str, str] = {}
    if c.gpus > 0:
        resources["nvidia.com/gpu"] = str(c.gpus)
    requests = dict(resources)
    if c.cpu:
        requests["cpu"] = c.cpu
    if c.memory:
        requests["memory"] = resources["memory"] = c.memory
    env = [
        k8s.V1EnvVar(name="DOMAINLM_RUN_ID", value=spec.id),
        k8s.V1EnvVar(name="DOMAINLM_SFT_DATA_URI", value=spec.sft_data),
        k8s.V1EnvVar(name="DOMAINLM_DPO_DATA_URI", value=spec.dpo_data),
    ]
    indexed = c.nodes > 1
    if indexed:
        # the index-0 pod's stable hostname through the headless Service
        master = f"{name}-0.{name}.{settings.namespace}.svc"
        env += [
            k8s.V1EnvVar(name="MASTER_ADDR", value=master),
            k8s.V1EnvVar(name="MASTER_PORT", value=str(settings.rendezvous_port)),
            k8s.V1EnvVar(name="WORLD_SIZE_NODES", value=str(c.nodes)),
        ]
    if settings.pvc:
        volume = k8s.V1Volume(
            name=VOLUME,
            persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name=settings.pvc),
        )
    else:
        volume = k8s.V1Volume(name=VOLUME, empty_dir=k8s.V1EmptyDirVolumeSource())
    shm = k8s.V1Volume(
        name="dshm", empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory")
    )  # NCCL, dataloaders
    container = k8s.V1Container(
        name=CONTAINER,
        image=settings.image,
        command=["/bin/sh", "-c", train_script(spec, settings)],
        env=env,
        resources=k8s.V1ResourceRequirements(requests=requests or None, limits=resources or None),
        volume_mounts=[
            k8s.V1VolumeMount(name=VOLUME, mount_path=settings.data_mount),
            k8s.V1VolumeMount(name="dshm", mount_path="/dev/shm"),
        ],
        ports=[k8s.V1ContainerPort(name="rendezvous", container_port=settings.rendezvous_port)]
        if indexed
        else None,
    )
    mounts = [k8s.V1VolumeMount(name=VOLUME, mount_path=settings.data_mount)]
    store_env = (
        [k8s.V1EnvVar(name="AWS_ENDPOINT_URL", value=settings.object_store_endpoint)]
        if settings.object_store_endpoint
        else None
    )
    store_secret = (
        [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=settings.object_store_secret))]
        if settings.object_store_secret
        else None
    )

    def store_container(name: str, script: str) -> k8s.V1Container:
        return k8s.V1Container(
            name=name, image=settings.object_store_image, command=["/bin/sh", "-c", script],
            env=store_env, env_from=store_secret, volume_mounts=mounts,
        )  # fmt: skip

    init: list[k8s.V1Container] = []
    if (fetch := fetch_script(spec, settings)) is not None:
        init.append(store_container("fetch", fetch))
    if settings.output_uri:
        # training runs to completion as an init container; the pod's one container then uploads
        init.append(container)
        containers = [store_container("upload", upload_script(spec, settings))]
    else:
        containers = [container]
    tolerations = [k8s.V1Toleration(**_snake(t)) for t in settings.tolerations] or None
    pod = k8s.V1PodSpec(
        restart_policy="Never",  # required by podFailurePolicy; the Job retries with new pods
        init_containers=init or None,
        containers=containers,
        volumes=[volume, shm],
        node_selector=settings.node_selector or None,
        tolerations=tolerations,
        service_account_name=settings.service_account or None,
        subdomain=name if indexed else None,
    )
    rules = [
        # preemption, eviction, node drain: retry without counting against backoffLimit
        k8s.V1PodFailurePolicyRule(
            action="Ignore",
            on_pod_conditions=[
                k8s.V1PodFailurePolicyOnPodConditionsPattern(type="DisruptionTarget", status="True")
            ],
        ),
    ]
    if settings.fail_job_exit_codes:
        # the trainer refused its configuration: another try would fail the same way
        rules.insert(
            0,
            k8s.V1PodFailurePolicyRule(
                action="FailJob",
                on_exit_codes=k8s.V1PodFailurePolicyOnExitCodesRequirement(
                    container_name=CONTAINER, operator="In", values=sorted(set(settings.fail_job_exit_codes))
                ),
            ),
        )
    job_spec = k8s.V1JobSpec(
        backoff_limit=settings.backoff_limit,
        active_deadline_seconds=settings.active_deadline_seconds,
        ttl_seconds_after_finished=settings.ttl_seconds_after_finished,
        pod_failure_policy=k8s.V1PodFailurePolicy(rules=rules),
        template=k8s.V1PodTemplateSpec(metadata=k8s.V1ObjectMeta(labels=_labels(spec)), spec=pod),
    )
    if indexed:
        job_spec.completion_mode = "Indexed"
        job_spec.completions = job_spec.parallelism = c.nodes
    return k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k8s.V1ObjectMeta(
            name=name,
            namespace=settings.namespace,
            labels=_labels(spec),
            annotations={"domainlm.io/spec": json.dumps(spec.to_json(), ensure_ascii=False)},
        ),
        spec=job_spec,
    )


def _snake(d: dict[str, Any]) -> dict[str, Any]:
    """camelCase keys (as written in manifests) as the client's snake_case arguments."""
    return {"".join("_" + ch.lower() if ch.isupper() else ch for ch in k): v for k, v in d.items()}


def job_status(job: Any) -> RunStatus:
    """A Job's status as a run's state, with the reason of a failure."""
    status = job.status
    conditions = {c.type: c for c in (status.conditions or []) if c.status == "True"} if status else {}
    if "Complete" in conditions:
        return RunStatus("succeeded", message=conditions["Complete"].message or "")
    for kind in ("Failed", "FailureTarget"):
        if kind in conditions:
            cond = conditions[kind]
            return RunStatus("failed", message=f"{cond.reason or kind}: {cond.message or ''}".rstrip(": "))
    if status and (status.active or 0) > 0:
        return RunStatus("running", message=f"{status.active} pod(s) active")
    if status and (status.failed or 0) > 0:
        return RunStatus("pending", message=f"{status.failed} pod(s) failed; retrying")
    return RunStatus("pending")


def pod_failure(pod: Any) -> str:
    """Why a pod failed, from its trainer container's terminated state (empty when it did not)."""
    statuses = (
        [*(pod.status.init_container_statuses or []), *(pod.status.container_statuses or [])]
        if pod.status
        else []
    )
    for cs in statuses:
        term = cs.state.terminated if cs.state else None
        if term is not None and term.exit_code:
            return (
                f"pod {pod.metadata.name}: {cs.name} exited {term.exit_code} ({term.reason or 'Error'})"
                + (f": {term.message}" if term.message else "")
            )
    if pod.status and pod.status.phase == "Failed":
        return f"pod {pod.metadata.name}: {pod.status.reason or 'Failed'} {pod.status.message or ''}".rstrip()
    return ""


class KubernetesBackend:
    name = "kubernetes"

    def __init__(self, settings: TrainerSettings, api: k8s.ApiClient) -> None:
        self.settings = settings
        self.batch, self.core = k8s.BatchV1Api(api), k8s.CoreV1Api(api)

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    def submit(self, spec: RunSpec) -> RunStatus:
        if spec.config.nodes > 1:
            try:
                self.core.create_namespaced_service(self.namespace, rendezvous_service(spec, self.settings))
            except ApiException as e:
                if e.status != 409:
                    raise
        self.batch.create_namespaced_job(self.namespace, training_job(spec, self.settings))
        return self.status(spec)

    def _pods(self, spec: RunSpec) -> list[Any]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"{JOB_NAME_LABEL}={job_name(spec)}"
        )
        return sorted(pods.items, key=lambda p: p.metadata.creation_timestamp or 0)

    def status(self, spec: RunSpec) -> RunStatus:
        model_dir = run_paths(spec, self.settings)["published"]
        try:
            job = self.batch.read_namespaced_job_status(job_name(spec), self.namespace)
        except ApiException as e:
            if e.status == 404:
                return RunStatus("cancelled", message="the Job is gone (deleted)", model_dir=model_dir)
            raise
        if job.metadata is not None and job.metadata.deletion_timestamp is not None:
            return RunStatus("cancelled", message="the Job is being deleted", model_dir=model_dir)
        status = job_status(job)
        status.model_dir = model_dir
        if status.state in ("failed", "pending") and job.status is not None and (job.status.failed or 0) > 0:
            reasons = [r for r in (pod_failure(p) for p in self._pods(spec)) if r]
            if reasons:
                status.message = f"{status.message}; {reasons[-1]}".lstrip("; ")
        return status

    def cancel(self, spec: RunSpec) -> RunStatus:
        current = self.status(spec)
        if current.finished:  # nothing to stop; a finished run keeps its state
            return current
        try:
            self.batch.delete_namespaced_job(job_name(spec), self.namespace, propagation_policy="Foreground")
        except ApiException as e:
            if e.status != 404:
                raise
        if spec.config.nodes > 1:
            try:
                self.core.delete_namespaced_service(job_name(spec), self.namespace)
            except ApiException as e:
                if e.status != 404:
                    raise
        return RunStatus(
            "cancelled", message="cancelled", model_dir=run_paths(spec, self.settings)["published"]
        )

    def logs(self, spec: RunSpec, tail: int) -> list[str]:
        if tail <= 0:
            return []
        pods = self._pods(spec)
        if not pods:
            return []
        pod = pods[-1]  # the latest try (index 0 for an indexed Job's first pod)
        name = pod.metadata.name
        try:  # raw: the client would turn an error answer (no node, no kubelet yet) into None
            resp: Any = self.core.read_namespaced_pod_log(
                name, self.namespace, container=CONTAINER, tail_lines=tail, _preload_content=False
            )
        except ApiException as e:
            return [f"(no logs from pod {name}: {e.reason})"]
        status, body = getattr(resp, "status", 200), resp.data.decode("utf-8", errors="replace")
        if status == 204:  # the pod has no node yet: nothing logged
            return []
        if status != 200:
            try:
                why = json.loads(body).get("message", body)
            except ValueError:
                why = body
            return [f"(no logs from pod {name}: HTTP {status}: {why.strip()[:300]})"]
        return body.splitlines()[-tail:]


# -- publishing to the vLLM Deployment


def _arg_value(args: list[str], flag: str) -> str | None:
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _set_arg(args: list[str], flag: str, value: str) -> list[str]:
    out, i, done = [], 0, False
    while i < len(args):
        a = args[i]
        if a == flag and i + 1 < len(args):
            out += [flag, value]
            i, done = i + 2, True
            continue
        if a.startswith(flag + "="):
            out.append(f"{flag}={value}")
            i, done = i + 1, True
            continue
        out.append(a)
        i += 1
    return out if done else [*out, flag, value]


def served_model(deployment: Any, container: str) -> tuple[str | None, str | None]:
    """The (model directory, served name) the Deployment's vLLM container runs."""
    c = _container(deployment, container)
    args = list(c.args or [])
    return _arg_value(args, "--model"), _arg_value(args, "--served-model-name")


def _container(deployment: Any, name: str) -> Any:
    for c in deployment.spec.template.spec.containers:
        if c.name == name:
            return c
    raise KeyError(f"Deployment {deployment.metadata.name} has no container {name!r}")


def model_patch(
    deployment: Any, container: str, model_dir: str, served_name: str, history: list[str]
) -> dict[str, Any]:
    """A strategic-merge patch that points the vLLM container at model_dir, serving it as served_name.

    The container's args are replaced whole (`--model DIR --served-model-name NAME` kept or added);
    the pod template's annotation names the directory (so the rollout is visible), and the Deployment's
    annotation keeps the history for rollback.
    """
    args = list(_container(deployment, container).args or [])
    args = _set_arg(_set_arg(args, "--model", model_dir), "--served-model-name", served_name)
    return {
        "metadata": {"annotations": {MODEL_HISTORY: json.dumps(history), MODEL_DIR: model_dir}},
        "spec": {
            "template": {
                "metadata": {"annotations": {MODEL_DIR: model_dir}},
                "spec": {"containers": [{"name": container, "args": args}]},
            }
        },
    }


def rollout_complete(deployment: Any) -> tuple[bool, str]:
    """`kubectl rollout status`'s test: the new generation observed, every replica updated and available."""
    meta, spec, st = deployment.metadata, deployment.spec, deployment.status
    want = spec.replicas if spec.replicas is not None else 1
    if st is None or (st.observed_generation or 0) < (meta.generation or 0):
        return False, "waiting for the Deployment's new generation to be observed"
    for cond in st.conditions or []:
        if cond.type == "Progressing" and cond.reason == "ProgressDeadlineExceeded":
            return False, f"rollout failed: {cond.message}"
    if (st.updated_replicas or 0) < want:
        return False, f"{st.updated_replicas or 0} of {want} replicas updated"
    if (st.replicas or 0) > (st.updated_replicas or 0):
        return False, f"{(st.replicas or 0) - (st.updated_replicas or 0)} old replicas pending termination"
    if (st.available_replicas or 0) < (st.updated_replicas or 0):
        return False, f"{st.available_replicas or 0} of {st.updated_replicas} updated replicas available"
    return True, "rollout complete"


def models_listed(base_url: str, name: str, timeout: float = 5.0) -> bool | None:
    """Whether the server's /v1/models lists name (None when the server cannot be reached)."""
    root = base_url.rstrip("/")
    try:
        return name in served_names(root if root.endswith("/v1") else f"{root}/v1", timeout)
    except OSError:
        return None


class DeploymentPublisher:
    """Rolls the vLLM Deployment to a new model directory; the public name stays the same."""

    def __init__(self, settings: TrainerSettings, api: k8s.ApiClient) -> None:
        self.settings, self.apps = settings, k8s.AppsV1Api(api)

    def _read(self) -> Any:
        return self.apps.read_namespaced_deployment(self.settings.vllm_deployment, self.settings.namespace)

    def history(self) -> list[str]:
        dep = self._read()
        raw = (dep.metadata.annotations or {}).get(MODEL_HISTORY)
        if raw:
            return list(json.loads(raw))
        current, _ = served_model(dep, self.settings.vllm_container)
        return [current] if current else []

    def _roll(self, model_dir: str, history: list[str], name: str) -> str | None:
        dep = self._read()
        previous, served = served_model(dep, self.settings.vllm_container)
        patch = model_patch(dep, self.settings.vllm_container, model_dir, served or name, history)
        self.apps.patch_namespaced_deployment(self.settings.vllm_deployment, self.settings.namespace, patch)
        return previous

    def publish(self, model_dir: str, name: str) -> str | None:
        """Points the Deployment at model_dir; returns the directory served before."""
        history = self.history()
        if not history or history[-1] != model_dir:
            history.append(model_dir)
        return self._roll(model_dir, history, name)

    def rollback(self, name: str) -> tuple[str, str | None]:
        """Points the Deployment back at the directory served before the current one."""
        history = self.history()
        if len(history) < 2:
            raise LookupError(f"nothing to roll back to: the Deployment has served {history or 'no model'}")
        history.pop()
        target = history[-1]
        return target, self._roll(target, history, name)

    def wait_ready(self, name: str, timeout: float, poll: float = 1.0) -> tuple[bool, str]:
        deadline = time.monotonic() + timeout
        while True:
            done, message = rollout_complete(self._read())
            if done and self.settings.vllm_url:
                listed = models_listed(self.settings.vllm_url, name)
                if listed is False:
                    done, message = False, f"rollout complete but /v1/models does not list {name!r} yet"
                elif listed is None:
                    message = "rollout complete (/v1/models not reachable from the trainer)"
            if done or time.monotonic() >= deadline:
                return done, message
            time.sleep(poll)
