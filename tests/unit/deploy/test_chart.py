"""The Helm chart (k8s/domainlm), checked without a cluster: `helm lint --strict` and `helm template` of the
default values and every scenario in ci/, each manifest validated by kubeconform against the Kubernetes
1.33 schemas (offline, from PyPI's kubernetes-validate), then what the release relies on: hardened pods,
probes, the trainer's narrow rights, KEDA triggers on the right topics and groups, environment variables
that the services' settings classes really read, and parity with docker-compose.yml.

helm and kubeconform are built from their Go modules by scripts/setup-helm.sh (setup.sh calls it; the
fixture below does too, so a fresh checkout works).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from settingspaths import SERVICES, env_path, has_path, settings_class
from setupscripts import setup_script

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "k8s" / "domainlm"
SCENARIOS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
STAGES = SERVICES[:5]
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}
RELEASE, NAMESPACE = "dlm", "domainlm"


@pytest.fixture(scope="module")
def tools() -> Path:
    return setup_script("setup-helm.sh")


def helm(tools: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tools / "helm"), *args], capture_output=True, text=True, timeout=120)


def values_args(scenario: str | None) -> list[str]:
    return ["-f", str(CHART / "ci" / scenario)] if scenario else []


def render(tools: Path, scenario: str | None = None, *extra: str) -> list[dict[str, Any]]:
    done = helm(tools, "template", RELEASE, str(CHART), "-n", NAMESPACE, *values_args(scenario), *extra)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def rendered(tools: Path) -> dict[str | None, list[dict[str, Any]]]:
    return {s: render(tools, s) for s in [None, *SCENARIOS]}


def kinds(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            out[f"{d['kind']}/{d['metadata']['name']}"] = d["spec"]["template"]["spec"]
        elif d["kind"] == "Pod":
            out[f"Pod/{d['metadata']['name']}"] = d["spec"]
    return out


def container(docs: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    return kinds(docs, "Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


# 1. helm lint, kubeconform, and the values schema.


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_lint_strict(tools: Path, scenario: str | None) -> None:
    done = helm(tools, "lint", "--strict", str(CHART), *values_args(scenario))
    assert done.returncode == 0, done.stdout + done.stderr


def schema_dir() -> Path:
    # kubernetes-validate's 1.33 schemas, prepared for kubeconform by scripts/setup-helm.sh
    return ROOT / ".cache" / "kubernetes-json-schema" / "v1.33.0-strict"


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_manifests_are_valid_kubernetes_1_33(tools: Path, scenario: str | None, tmp_path: Path) -> None:
    done = helm(tools, "template", RELEASE, str(CHART), "-n", NAMESPACE, *values_args(scenario))
    assert done.returncode == 0, done.stderr
    (tmp_path / "all.yaml").write_text(done.stdout)
    check = subprocess.run(
        [str(tools / "kubeconform"), "-strict", "-summary", "-output", "json",
         "-schema-location", str(schema_dir()) + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
         "-skip", ",".join(sorted(CRD_KINDS)), str(tmp_path / "all.yaml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = json.loads(check.stdout)
    assert check.returncode == 0, [r for r in report["resources"] if r["status"] != "statusValid"]
    summary = report["summary"]
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    crds = sum(d["kind"] in CRD_KINDS for d in docs)
    assert summary == {"valid": len(docs) - crds, "invalid": 0, "errors": 0, "skipped": crds}, summary


def test_kubeconform_catches_an_invalid_manifest(tools: Path, tmp_path: Path) -> None:
    # The check above can fail: a Deployment with a misspelt field is refused in strict mode.
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
        "spec: {replicas: 1, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}},"
        " spec: {containers: [{name: c, image: i, imagePullPolicy: Always, portz: []}]}}}\n"
    )
    check = subprocess.run(
        [str(tools / "kubeconform"), "-strict", "-schema-location",
         str(schema_dir()) + "/{{ .ResourceKind }}{{ .KindSuffix }}.json", str(tmp_path / "bad.yaml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode != 0 and "portz" in check.stdout


def test_values_schema_is_generated_from_values_yaml() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart_schema.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(schema)
    for path in [CHART / "values.yaml", *sorted((CHART / "ci").glob("*-values.yaml"))]:
        values = yaml.safe_load(path.read_text())
        if path.parent.name == "ci":  # a scenario is an override: check it merged onto the defaults
            values = merge(yaml.safe_load((CHART / "values.yaml").read_text()), values)
        errors = [e.message for e in validator.iter_errors(values)]
        assert not errors, (path.name, errors)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


# Schema errors stop `helm lint` and `helm template`; a missing external address or a contradiction is a
# `required`/`fail` in the templates, which `helm lint` only reports (it renders without real values),
# so those stop `helm template` (and install/upgrade).
SCHEMA, TEMPLATE = "lint and template", "template"
BAD_VALUES = [
    (["--set", "generator.replicaz=2"], SCHEMA, "additional properties 'replicaz' not allowed"),
    (["--set", "ocr.replicas=many"], SCHEMA, "got string, want integer"),
    (["--set", "dedup.replicas=-1"], SCHEMA, "minimum: got -1, want 0"),
    (["--set", "ocr.autoscaling.type=magic"], SCHEMA, "value must be one of 'none', 'hpa', 'keda'"),
    (["--set-json", 'kafka.sasl.password={"existingSecret": "s"}'], SCHEMA, "missing property 'key'"),
    (["--set", "kafka.host="], TEMPLATE, "kafka.host is required"),
    (["--set", "redis.host="], TEMPLATE, "redis.host is required"),
    (["--set", "postgres.host="], TEMPLATE, "postgres.host is required"),
    (["--set", "vllm.teacher.enabled=false"], TEMPLATE, "teacher.url is required"),
    (["--set", "kafka.sasl.enabled=true"], TEMPLATE, "kafka.sasl.username is required"),
    (["--set", "vllm.serving.enabled=false"], TEMPLATE, "trainer.enabled needs vllm.serving.enabled"),
]


@pytest.mark.parametrize(("args", "stage", "message"), BAD_VALUES, ids=[m for *_, m in BAD_VALUES])
def test_bad_values_fail_with_a_clear_message(tools: Path, args: list[str], stage: str, message: str) -> None:
    template = helm(tools, "template", RELEASE, str(CHART), *args)
    assert template.returncode != 0 and message in template.stderr, template.stderr[-1500:]
    lint = helm(tools, "lint", "--strict", str(CHART), *args)
    assert message in lint.stdout + lint.stderr
    assert (lint.returncode != 0) is (stage == SCHEMA), lint.stdout[-1500:]


# 2. What every pod and container of every scenario must be.


def test_every_pod_is_hardened(rendered: dict[str | None, list[dict[str, Any]]]) -> None:
    for scenario, docs in rendered.items():
        for name, spec in pod_specs(docs).items():
            where = f"{scenario or 'defaults'}: {name}"
            sc = spec["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0, where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            trainer = name == f"Deployment/{RELEASE}-domainlm-trainer"
            assert spec["automountServiceAccountToken"] is trainer, where
            for c in [*spec.get("initContainers", []), *spec["containers"]]:
                csc = c["securityContext"]
                assert csc["allowPrivilegeEscalation"] is False and csc["readOnlyRootFilesystem"] is True, (
                    where
                )
                assert csc["capabilities"] == {"drop": ["ALL"]} and csc["privileged"] is False, where
                mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
                if c["name"] != "config":  # the Kafka init container writes only its config volume
                    assert "/tmp" in mounts, f"{where}/{c['name']}: a read-only root needs a writable /tmp"


def test_probes(rendered: dict[str | None, list[dict[str, Any]]]) -> None:
    docs = rendered[None]
    for name in SERVICES:
        c = container(docs, f"{RELEASE}-domainlm-{name}")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["grpc"] == {"port": 50051}, (name, probe)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for name in ("teacher", "serving"):
        c = container(docs, f"{RELEASE}-domainlm-{name}")
        startup = c["startupProbe"]
        assert startup["httpGet"]["path"] == "/health" and c["livenessProbe"]["httpGet"]["path"] == "/health"
        allowed = startup["periodSeconds"] * startup["failureThreshold"]
        assert allowed >= values["vllm"][name]["startupSeconds"] >= 600, (name, allowed)
        assert c["resources"]["limits"]["nvidia.com/gpu"] == values["vllm"][name]["gpus"]
        pod = kinds(docs, "Deployment")[f"{RELEASE}-domainlm-{name}"]["spec"]["template"]["spec"]
        shm = next(v for v in pod["volumes"] if v["name"] == "shm")
        assert shm["emptyDir"]["medium"] == "Memory"


# 3. The trainer's rights and the Deployment it publishes to.


def test_trainer_rights_are_namespaced_and_narrow(rendered: dict[str | None, list[dict[str, Any]]]) -> None:
    for scenario, docs in rendered.items():
        assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")], scenario
    docs = rendered[None]
    serving = f"{RELEASE}-domainlm-serving"
    role = kinds(docs, "Role")[f"{RELEASE}-domainlm-trainer"]
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): r for r in role["rules"]}
    assert set(rules[(("batch",), ("jobs",))]["verbs"]) == {"create", "get", "list", "watch", "delete"}
    assert set(rules[(("",), ("pods", "pods/log"))]["verbs"]) == {"get", "list", "watch"}
    deployments = rules[(("apps",), ("deployments",))]
    assert deployments["resourceNames"] == [serving] and set(deployments["verbs"]) == {"get", "patch"}
    assert all("*" not in r["verbs"] and "*" not in r["resources"] for r in role["rules"])
    binding = kinds(docs, "RoleBinding")[f"{RELEASE}-domainlm-trainer"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{RELEASE}-domainlm-trainer", "namespace": NAMESPACE}
    ]
    trainer = kinds(docs, "Deployment")[f"{RELEASE}-domainlm-trainer"]["spec"]["template"]["spec"]
    assert trainer["serviceAccountName"] == f"{RELEASE}-domainlm-trainer"
    env = env_of(trainer["containers"][0])
    assert env["DOMAINLM_TRAINER_VLLM_DEPLOYMENT"]["value"] == serving
    served = container(docs, serving)
    assert served["name"] == env["DOMAINLM_TRAINER_VLLM_CONTAINER"]["value"]
    args = served["args"]
    assert args[args.index("--served-model-name") + 1] == env["DOMAINLM_TRAINER_SERVED_MODEL_NAME"]["value"]
    assert env["DOMAINLM_TRAINER_BACKEND"]["value"] == "kubernetes"
    pvc = env["DOMAINLM_TRAINER_PVC"]["value"]
    serving_pod = kinds(docs, "Deployment")[serving]["spec"]["template"]["spec"]
    assert {"persistentVolumeClaim": {"claimName": pvc}, "name": "models"} in serving_pod["volumes"]


# 4. Autoscaling.


def test_keda_scales_each_stage_on_its_own_topics_and_group(
    rendered: dict[str | None, list[dict[str, Any]]],
) -> None:
    docs = rendered["keda-values.yaml"]
    values = merge(
        yaml.safe_load((CHART / "values.yaml").read_text()),
        yaml.safe_load((CHART / "ci" / "keda-values.yaml").read_text()),
    )
    scaled = kinds(docs, "ScaledObject")
    partitions = values["kafka"]["topics"]["partitions"]
    for name in STAGES:
        block, full = values[name], f"{RELEASE}-domainlm-{name}"
        if block["autoscaling"]["type"] != "keda":
            assert full not in scaled and full in kinds(docs, "HorizontalPodAutoscaler")
            assert "replicas" not in kinds(docs, "Deployment")[full]["spec"]  # the HPA owns it
            continue
        settings = settings_class(name)
        assert settings is not None
        topics = str(settings.model_fields["in_topic"].default).split(",")
        group = block["settings"].get("group", settings.model_fields["group"].default)
        obj = scaled[full]
        assert obj["spec"]["scaleTargetRef"]["name"] == full
        assert "replicas" not in kinds(docs, "Deployment")[full]["spec"]
        assert obj["spec"]["maxReplicaCount"] == min(block["autoscaling"]["maxReplicas"], partitions)
        triggers = obj["spec"]["triggers"]
        assert [t["metadata"]["topic"] for t in triggers] == topics, name
        assert {t["metadata"]["consumerGroup"] for t in triggers} == {group}, name
        assert all(t["authenticationRef"]["name"] == f"{RELEASE}-domainlm-kafka" for t in triggers)
        boot = env_of(container(docs, full))[f"DOMAINLM_{name.upper()}_BOOTSTRAP"]["value"]
        assert {t["metadata"]["bootstrapServers"] for t in triggers} == {boot}
    auth = kinds(docs, "TriggerAuthentication")[f"{RELEASE}-domainlm-kafka"]
    params = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert set(params) == {"sasl", "username", "password"}
    secret = kinds(docs, "Secret")[f"{RELEASE}-domainlm"]
    assert base64.b64decode(secret["data"][params["sasl"]["key"]]) == b"scram_sha256"
    assert len(kinds(docs, "ServiceMonitor")) == len(SERVICES)


# 5. Environment variables the services really read, and the wiring between them.


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_environment_names_settings(
    rendered: dict[str | None, list[dict[str, Any]]], scenario: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered[scenario]
    deployments = kinds(docs, "Deployment")
    for name in SERVICES:
        full = f"{RELEASE}-domainlm-{name}"
        if full not in deployments:
            continue
        settings = settings_class(name)
        assert settings is not None, name
        env = env_of(container(docs, full))
        ours = {k: e for k, e in env.items() if k.startswith(f"DOMAINLM_{name.upper()}_")}
        assert ours, name
        for key in ours:
            assert has_path(settings, env_path(name, key)), f"{scenario}: {key} is no setting of {name}"
        # ...and the settings parse from that environment (secrets and $(VAR) references filled in)
        for key in list(os.environ):
            if key.startswith("DOMAINLM_"):
                monkeypatch.delenv(key)
        # a secret's stand-in: JSON where the setting is structured (the review page's tokens)
        secrets = {k: "{}" if k.endswith("TOKENS") else "s3cret" for k, e in env.items() if "valueFrom" in e}
        for key, e in ours.items():
            value = secrets.get(key) or e.get("value", "")
            monkeypatch.setenv(key, re.sub(r"\$\((\w+)\)", lambda m, s=secrets: s.get(m.group(1), ""), value))
        settings()


def test_stages_are_wired_to_kafka_the_teacher_and_their_stores(
    rendered: dict[str | None, list[dict[str, Any]]],
) -> None:
    docs = rendered["external-values.yaml"]
    for name in STAGES:
        env = env_of(container(docs, f"{RELEASE}-domainlm-{name}"))
        p = f"DOMAINLM_{name.upper()}_"
        assert env[f"{p}BOOTSTRAP"]["value"] == "b-1.kafka.internal:9096,b-2.kafka.internal:9096"
        assert env[f"{p}KAFKA__SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert env[f"{p}KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "kafka-credentials", "key": "password",
        }  # fmt: skip
        assert env[f"{p}KAFKA__SSL_CAFILE"]["value"] == "/etc/domainlm/kafka-ca/ca.crt"
        assert env[f"{p}TOPIC_PARTITIONS"]["value"] == "12" and env[f"{p}TOPIC_REPLICATION"]["value"] == "3"
    gen = env_of(container(docs, f"{RELEASE}-domainlm-generator"))
    assert gen["DOMAINLM_GENERATOR_TEACHER__BASE_URL"]["value"] == "https://llm.internal:8443/v1"
    assert (
        gen["DOMAINLM_GENERATOR_TEACHER__API_KEY"]["valueFrom"]["secretKeyRef"]["name"]
        == "teacher-credentials"
    )
    review = env_of(container(docs, f"{RELEASE}-domainlm-review"))
    assert review["DOMAINLM_REVIEW_DATABASE_URL"]["value"] == (
        "postgresql+psycopg://domainlm:$(DOMAINLM_POSTGRES_PASSWORD)@pg.db.internal:5432/domainlm_review"
        "?sslmode=verify-full"
    )
    names = list(review)
    assert names.index("DOMAINLM_POSTGRES_PASSWORD") < names.index("DOMAINLM_REVIEW_DATABASE_URL")
    # the review page: its port, its tokens from the Secret named in the values, its Service port
    assert review["DOMAINLM_REVIEW_HTTP__TOKENS"]["valueFrom"]["secretKeyRef"] == {
        "name": "review-tokens", "key": "tokens.json",
    }  # fmt: skip
    assert review["DOMAINLM_REVIEW_HTTP__TRUSTED_PROXIES"]["value"] == '["10.42.0.0/16"]'
    service = kinds(docs, "Service")[f"{RELEASE}-domainlm-review"]
    assert {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"} in service["spec"]["ports"]
    dedup = env_of(container(docs, f"{RELEASE}-domainlm-dedup"))
    assert (
        dedup["DOMAINLM_DEDUP_REDIS_URL"]["value"]
        == "rediss://:$(DOMAINLM_REDIS_PASSWORD)@redis.cache.internal:6380/0"
    )
    assert f"{RELEASE}-domainlm-teacher" not in kinds(docs, "Deployment")

    bundled = rendered["bundled-values.yaml"]
    sets = kinds(bundled, "StatefulSet")
    assert set(sets) == {f"{RELEASE}-domainlm-{s}" for s in ("kafka", "redis", "postgres")}
    env = env_of(container(bundled, f"{RELEASE}-domainlm-generator"))
    assert env["DOMAINLM_GENERATOR_BOOTSTRAP"]["value"] == f"{RELEASE}-domainlm-kafka:9092"
    assert (
        env["DOMAINLM_GENERATOR_TEACHER__BASE_URL"]["value"] == f"http://{RELEASE}-domainlm-teacher:8000/v1"
    )
    secret = kinds(bundled, "Secret")[f"{RELEASE}-domainlm"]
    assert {"redis-password", "postgres-password"} <= set(secret["data"])
    redis = sets[f"{RELEASE}-domainlm-redis"]["spec"]["template"]["spec"]["containers"][0]
    assert "--appendonly" in redis["args"]  # the shared index survives a restart


def test_network_policies_allow_only_the_topology(rendered: dict[str | None, list[dict[str, Any]]]) -> None:
    docs = rendered["bundled-values.yaml"]
    policies = kinds(docs, "NetworkPolicy")
    for name in STAGES:
        pol = policies[f"{RELEASE}-domainlm-{name}"]
        assert pol["spec"]["policyTypes"] == ["Ingress", "Egress"]
        to = {
            rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for rule in pol["spec"]["egress"]
            if rule.get("to")
        }
        expected = {"kafka"} | {"generator": {"teacher"}, "evolver": {"teacher"}, "dedup": {"redis"},
                                "review": {"postgres"}}.get(name, set())  # fmt: skip
        assert to == expected, (name, to)
    kafka = policies[f"{RELEASE}-domainlm-kafka"]["spec"]["ingress"][0]["from"]
    clients = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in kafka}
    assert clients == {*STAGES, "test"}
    assert not kinds(rendered["minimal-values.yaml"], "NetworkPolicy")


def test_extra_objects_are_templated_into_the_release(
    rendered: dict[str | None, list[dict[str, Any]]],
) -> None:
    extra = kinds(rendered["minimal-values.yaml"], "ConfigMap")
    assert extra[f"{RELEASE}-policies-index"]["data"] == {"source": "s3://policies/incoming/"}


# 6. docker-compose.yml and the chart describe the same topology.


def test_compose_parity(rendered: dict[str | None, list[dict[str, Any]]]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    docs = rendered["bundled-values.yaml"]
    deployments = kinds(docs, "Deployment")
    for name in STAGES:
        assert name in compose and f"{RELEASE}-domainlm-{name}" in deployments
        env = env_of(container(docs, f"{RELEASE}-domainlm-{name}"))
        missing = set(compose[name]["environment"]) - set(env)
        assert not missing, f"{name}: compose sets {sorted(missing)}, the chart does not"
        for key in ("METRICS_PORT", "GRPC_PORT"):
            full = f"DOMAINLM_{name.upper()}_{key}"
            assert str(compose[name]["environment"][full]) == env[full]["value"]
    init = compose["kafka-init"]["environment"]
    created = set(init["TOPICS"].split())
    wanted: set[str] = set()
    for name in STAGES:  # the topics a service creates at start are the ones compose's job creates
        settings = settings_class(name)
        assert settings is not None
        own = set()
        for field, info in settings.model_fields.items():
            if field.endswith("_topic"):
                for topic in str(info.default).split(","):
                    own |= {topic, f"{topic}.dlq"} if field == "in_topic" else {topic}
        assert own <= settings().topics(), name
        wanted |= own
    assert wanted <= created
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert str(values["kafka"]["topics"]["partitions"]) == re.sub(
        r"\D", "", init["PARTITIONS"].split(":-")[-1]
    )
    kept = set(init["KEPT_FOREVER"].split())
    from domainlm_chassis.service import WorkerSettings

    configs = WorkerSettings.model_fields["topic_configs"].get_default(call_default_factory=True)
    assert kept == {t for t, cfg in configs.items() if cfg.get("retention.ms") == "-1"}


def test_default_images_are_what_scripts_images_builds(
    rendered: dict[str | None, list[dict[str, Any]]],
) -> None:
    import tomllib

    version = tomllib.loads((ROOT / "libs" / "domainlm" / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version  # images.sh tags with the project's version
    spec = importlib.util.spec_from_file_location("images", ROOT / "scripts" / "images.py")
    assert spec is not None and spec.loader is not None
    images = importlib.util.module_from_spec(spec)
    sys.modules["images"] = images  # its dataclasses look their module up while it is executed
    spec.loader.exec_module(images)
    assert images.version() == version and images.SERVICES == SERVICES
    assert (
        images.image_name("dedup", version, "registry.example.com/ml/")
        == f"registry.example.com/ml/domainlm-dedup:{version}"
    )
    for name in SERVICES:
        assert (
            container(rendered[None], f"{RELEASE}-domainlm-{name}")["image"] == f"domainlm-{name}:{version}"
        )
