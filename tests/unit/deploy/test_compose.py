"""docker-compose.yml, checked three ways (no Docker engine runs here, so the stack is not started):

1. against the Compose Specification's JSON schema, as written;
2. by compose-go, the library docker compose reads files with (a small loader around it, as `docker
   compose config`): interpolation with the defaults, merge keys, normalisation and its consistency checks;
3. on the loaded model, for what this stack relies on: health checks behind every depends_on condition,
   pinned images, scalable stage services, every topic of the stream created, and environment variables
   that the services' settings classes really read.

scripts/setup-compose-schema.sh fetches the schema and builds the loader into .cache/ (setup.sh calls it;
the fixture below calls it too, so a fresh checkout works; it needs Go and the Go module proxy once).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from settingspaths import has_path, settings_class
from setupscripts import setup_script

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
STAGES = ["ocr", "generator", "review", "dedup", "evolver"]
# DESIGN.md's stream: documents → chunks → samples.generated → samples.verified → samples.unique ⇄
# samples.evolved, each with a dead-letter topic.
STREAM = ["documents", "chunks", "samples.generated", "samples.verified", "samples.unique", "samples.evolved"]
# An exact release: 4.1.1, v0.30.0, 7.4.2-bookworm; PostgreSQL numbers its releases major.minor (17.5).
PINNED_TAG = re.compile(r"^v?\d+\.\d+\.\d+([.+-][\w.+-]*)?$")
TWO_PART_RELEASES = {"postgres": re.compile(r"^\d+\.\d+([.+-][\w.+-]*)?$")}


@pytest.fixture(scope="module")
def spec_dir() -> Path:
    return setup_script("setup-compose-schema.sh", timeout=600)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def load(spec_dir: Path, path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """compose-go's loader on a compose file, with only `env` set (so the file's defaults apply)."""
    return subprocess.run(
        [str(spec_dir / "compose-check"), path.name],
        cwd=path.parent, env={"PATH": os.environ.get("PATH", ""), **(env or {})},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def model(spec_dir: Path) -> dict[str, Any]:
    done = load(spec_dir, COMPOSE)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(model["services"])


def one_shots(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services something waits on to finish (service_completed_successfully): jobs, not servers."""
    return {
        target
        for svc in services.values()
        for target, dep in (svc.get("depends_on") or {}).items()
        if dep["condition"] == "service_completed_successfully"
    }


# 1. The schema.


def test_schema_accepts_the_file(spec_dir: Path, raw: dict[str, Any]) -> None:
    schema = json.loads((spec_dir / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_schema_rejects_what_compose_would(spec_dir: Path, raw: dict[str, Any]) -> None:
    schema = json.loads((spec_dir / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    for breakage in ("unknown-key", "bad-condition", "unknown-healthcheck-key"):
        broken = copy.deepcopy(raw)
        generator = broken["services"]["generator"]
        if breakage == "unknown-key":
            generator["replica"] = 2
        elif breakage == "bad-condition":
            generator["depends_on"]["kafka"]["condition"] = "service_ready"
        else:
            generator["healthcheck"]["every"] = "15s"
        assert list(validator.iter_errors(broken)), breakage


# 2. compose-go's loader.


def test_loader_rejects_a_dangling_dependency(spec_dir: Path, raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["services"]["ocr"]["depends_on"]["nosuch"] = {"condition": "service_started"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "docker-compose.yml")
        path.write_text(yaml.safe_dump(broken))
        done = load(spec_dir, path)
    assert done.returncode != 0 and "nosuch" in done.stderr


def test_loader_accepts_the_file_with_settings_overridden(spec_dir: Path) -> None:
    env = {"TEACHER_MODEL": "meta-llama/Llama-3.3-70B-Instruct", "KAFKA_PARTITIONS": "12"}
    done = load(spec_dir, COMPOSE, env)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)["services"]
    assert loaded["generator"]["environment"]["DOMAINLM_GENERATOR_TEACHER__MODEL"] == env["TEACHER_MODEL"]
    assert f"--model={env['TEACHER_MODEL']}" in loaded["teacher"]["command"]
    assert loaded["kafka-init"]["environment"]["PARTITIONS"] == "12"


# 3. The model.


def test_every_server_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    jobs = one_shots(services)
    for name, svc in services.items():
        if name in jobs:
            assert svc.get("restart", "no") == "no", f"{name} is a job: it must not restart"
            continue
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert svc.get("restart") in ("always", "unless-stopped", "on-failure"), f"{name}: restart policy"


def test_dependencies_exist_and_can_be_met(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for target, dep in (svc.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            condition = dep["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), f"{name} -> {target}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), f"{target} has no healthcheck"


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        if "build" in svc:
            continue
        image = svc.get("image", "")
        assert image, f"{name}: neither image nor build"
        assert is_pinned(image), f"{name}: {image!r} is not an exact version"


def is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return False
    rule = TWO_PART_RELEASES.get(repository.rpartition("/")[2], PINNED_TAG)
    return bool(rule.match(tag)) or bool(PINNED_TAG.match(tag))


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("apache/kafka:4.1.1", True),
        ("vllm/vllm-openai:v0.30.0", True),
        ("postgres:17.5-bookworm", True),
        ("redis:7.4-bookworm", False),
        ("redis:latest", False),
        ("redis", False),
        ("postgres:17", False),
        ("registry.local:5000/kafka", False),
    ],
)
def test_pin_rule(image: str, pinned: bool) -> None:
    assert is_pinned(image) is pinned


def test_builds_name_existing_dockerfiles(services: dict[str, dict[str, Any]]) -> None:
    built = {name: svc["build"] for name, svc in services.items() if "build" in svc}
    assert set(STAGES) <= set(built)
    for name, build in built.items():
        context = Path(build["context"])
        assert context == ROOT, f"{name}: the Dockerfiles copy paths relative to the repository root"
        assert (context / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']} does not exist"
        if name in STAGES:  # the one services Dockerfile, built for this service
            assert build["dockerfile"] == "services/Dockerfile" and build["args"]["SERVICE"] == name


def test_stage_services_scale(services: dict[str, dict[str, Any]]) -> None:
    for name in STAGES:
        svc = services[name]
        assert "container_name" not in svc, f"{name}: a fixed name stops --scale"
        assert not any(p.get("published") for p in svc.get("ports", [])), f"{name}: a host port stops --scale"
    assert not any("container_name" in svc for svc in services.values())


def test_kafka_init_creates_every_topic(services: dict[str, dict[str, Any]]) -> None:
    init = services["kafka-init"]
    created = set(init["environment"]["TOPICS"].split())
    script = " ".join(init.get("entrypoint") or []) + " " + " ".join(init.get("command") or [])
    assert "kafka-topics.sh" in script and "--create" in script and "$TOPICS" in script
    assert "--if-not-exists" in script, "the job is re-run on every `up`"
    assert int(init["environment"]["PARTITIONS"]) >= 2, "replicas split partitions"
    wanted = {t for topic in STREAM for t in (topic, f"{topic}.dlq")}
    for name in STAGES:  # and whatever the services' settings name, with a DLQ for what they consume
        settings = settings_class(name)
        if settings is None:
            continue
        defaults = {k: v.default for k, v in settings.model_fields.items() if k.endswith("_topic")}
        for field_name, value in defaults.items():
            for topic in str(value).split(","):
                wanted.add(topic)
                if field_name == "in_topic":
                    wanted.add(f"{topic}.dlq")
    assert wanted <= created, f"not created: {sorted(wanted - created)}"
    assert "kafka:9092" in script and "kafka" in init["depends_on"]


def test_stage_wiring(services: dict[str, dict[str, Any]]) -> None:
    for name in STAGES:
        svc, prefix = services[name], f"DOMAINLM_{name.upper()}_"
        env = svc.get("environment") or {}
        assert env and all(k.startswith(prefix) for k in env), f"{name}: settings are read as {prefix}*"
        host, _, _port = env[f"{prefix}BOOTSTRAP"].partition(":")
        assert host in services and host in svc["depends_on"]
        assert env[f"{prefix}METRICS_PORT"] == "9100"
        grpc_port = env[f"{prefix}GRPC_PORT"]
        test = svc["healthcheck"]["test"]
        assert "domainlm_chassis.grpc.probe" in test and f"127.0.0.1:{grpc_port}" in test
        assert svc["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"


def test_teacher_serves_what_the_services_ask_for(services: dict[str, dict[str, Any]]) -> None:
    teacher = services["teacher"]
    args = dict(a.removeprefix("--").split("=", 1) for a in teacher["command"] if "=" in a)
    devices = teacher["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d.get("capabilities", []) for d in devices)
    assert any("/v1/models" in part for part in teacher["healthcheck"]["test"])
    for name in ("generator", "evolver"):
        env, prefix = services[name]["environment"], f"DOMAINLM_{name.upper()}_"
        url = urlparse(env[f"{prefix}TEACHER__BASE_URL"])
        assert url.hostname == "teacher" and str(url.port) == args["port"] and url.path == "/v1"
        assert env[f"{prefix}TEACHER__MODEL"] == args["model"]
        assert services[name]["depends_on"]["teacher"]["condition"] == "service_healthy"


def test_stores_match(services: dict[str, dict[str, Any]]) -> None:
    pg = services["postgres"]["environment"]
    url = urlparse(services["review"]["environment"]["DOMAINLM_REVIEW_DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg" and url.hostname == "postgres"
    assert (url.username, url.password, url.path.lstrip("/")) == (
        pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]
    )  # fmt: skip
    assert "review" in services and "postgres" in services["review"]["depends_on"]
    redis = urlparse(services["dedup"]["environment"]["DOMAINLM_DEDUP_REDIS_URL"])
    assert (
        redis.scheme == "redis" and redis.hostname == "redis" and "redis" in services["dedup"]["depends_on"]
    )


# Environment variables against the settings classes: a misspelt name would be silently ignored.


@pytest.mark.parametrize("name", STAGES)
def test_environment_names_settings(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_class(name)
    if settings is None:
        pytest.skip(f"domainlm_{name}.settings has no settings class yet")
    prefix = f"DOMAINLM_{name.upper()}_"
    assert settings.model_config.get("env_nested_delimiter") == "__"
    for key in services[name]["environment"]:
        path = key.removeprefix(prefix).lower().split("__")
        assert has_path(settings, path), f"{key}: {settings.__name__} has no {'.'.join(path)}"
    # and the settings parse from exactly that environment
    for key, value in services[name]["environment"].items():
        monkeypatch.setenv(key, str(value))
    parsed = settings()
    assert parsed.model_dump()["bootstrap"] == services[name]["environment"][f"{prefix}BOOTSTRAP"]


def test_has_path() -> None:
    class Inner(BaseModel):
        base_url: str = ""

    class Outer(BaseModel):
        teacher: Inner = Inner()
        port: int = 0

    assert has_path(Outer, ["teacher", "base_url"]) and has_path(Outer, ["port"])
    assert not has_path(Outer, ["teacher", "model"]) and not has_path(Outer, ["port", "x"])


# The services' READMEs document the same settings, with the same defaults.

ROW = re.compile(r"^\| (`[^|]+`(?: / `[^|]+`)*) \| ([^|]+) \|")


@pytest.mark.parametrize("name", STAGES)
def test_readme_settings_exist(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_class(name)
    if settings is None:
        pytest.skip(f"domainlm_{name}.settings has no settings class yet")
    for key in list(os.environ):
        if key.startswith("DOMAINLM_"):
            monkeypatch.delenv(key)
    defaults = settings().model_dump()
    prefix = f"DOMAINLM_{name.upper()}_"
    documented = 0
    for line in (ROOT / "services" / name / "README.md").read_text().splitlines():
        row = ROW.match(line)
        if not row or not row.group(1).startswith(f"`{prefix}"):
            continue
        names = re.findall(r"`([^`]+)`", row.group(1))
        paths = [names[0].removeprefix(prefix).lower().split("__")]
        for short in names[1:]:  # `A__B` / `__C` is A__B and A__C
            paths.append([*paths[0][:-1], short.removeprefix("__").lower()])
        cells = re.findall(r"`([^`]+)`", row.group(2))
        for i, path in enumerate(paths):
            assert has_path(settings, path), f"README names {'__'.join(path).upper()}, which is no setting"
            documented += 1
            if len(cells) == len(paths):  # a literal default per name: it must be the real one
                value: Any = defaults
                for part in path:
                    value = value[part]
                shown = str(value).lower() if isinstance(value, bool) else str(value)
                assert cells[i] in (shown, shown.removesuffix(".0")), f"{'__'.join(path)}: README {cells[i]}"
    common = {"bootstrap", "in_topic", "out_topic", "group", "metrics_port", "grpc_port"}
    assert documented >= len(common)


def test_kafka_init_script(services: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """The job's script under bash, with kafka-topics.sh replaced by a stub that records its arguments."""
    init = services["kafka-init"]
    assert init["entrypoint"][:2] == ["/bin/bash", "-c"]
    tool = "/opt/kafka/bin/kafka-topics.sh"
    script = init["command"][0]
    assert tool in script
    stub, calls = tmp_path / "kafka-topics.sh", tmp_path / "calls"
    stub.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    stub.chmod(0o755)
    env = {"PATH": os.environ.get("PATH", ""), **{k: str(v) for k, v in init["environment"].items()}}
    done = subprocess.run(
        ["bash", "-c", script.replace(tool, str(stub))], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    creates = [line.split() for line in calls.read_text().splitlines() if "--create" in line.split()]
    created = {args[args.index("--topic") + 1]: args for args in creates}
    assert set(created) == set(init["environment"]["TOPICS"].split())
    for topic, args in created.items():
        assert args[args.index("--partitions") + 1] == init["environment"]["PARTITIONS"]
        assert args[args.index("--bootstrap-server") + 1] == "kafka:9092"
        kept = "retention.ms=-1" in args
        assert kept == (topic == "chunks"), f"{topic}: only chunks is kept forever (the evolver reads it all)"
