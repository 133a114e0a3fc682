"""The services' one Dockerfile (services/Dockerfile, built per service with --build-arg SERVICE=...), read
with dockerfile_parse and checked against the repository for every service.

scripts/images.sh builds and starts the images with buildah (tests/integration/test_images.py); these
checks are the fast part: they catch what would break a build or an image
(a COPY of a missing or ignored file, a workspace member the dependency layer does not copy, an entry
point that is not the package's console script, a venv copied onto a different Python) and what the
deployment relies on (pinned bases, a non-root user, the gRPC health check, the ports).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[3]
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
DOCKERFILE = ROOT / "services" / "Dockerfile"
# An exact release: 3.11.14, v0.30.0, 4.1.1 (a suffix like -slim-bookworm may follow), or a digest;
# Debian numbers its point releases major.minor (12.12-slim).
PINNED_TAG = re.compile(r"^v?\d+\.\d+\.\d+([.+-][\w.+-]*)?$")
TWO_PART_RELEASES = {"debian": re.compile(r"^\d+\.\d+([.+-][\w.+-]*)?$")}
OCR_PACKAGES = {"tesseract-ocr", "tesseract-ocr-kor", "poppler-utils", "fonts-nanum", "qpdf"}


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, value)

    def values(self, instruction: str) -> list[str]:
        return [v for i, v in self.instructions if i == instruction]


def build_args(path: Path = DOCKERFILE) -> dict[str, str]:
    """The ARG defaults declared before the first FROM (what `FROM ${BASE}` means without --build-arg)."""
    args: dict[str, str] = {}
    for item in DockerfileParser(path=str(path)).structure:
        if item["instruction"] == "FROM":
            break
        if item["instruction"] == "ARG":
            name, _, default = item["value"].partition("=")
            args[name.strip()] = default.strip()
    return args


def stages(path: Path = DOCKERFILE, service: str = "dedup") -> list[Stage]:
    """The Dockerfile's stages as built for `service`: ${SERVICE} and ${BASE} substituted."""
    parser = DockerfileParser(path=str(path))
    args = {**build_args(path), "SERVICE": service}
    result: list[Stage] = []
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        for name, arg in args.items():
            value = value.replace("${" + name + "}", arg).replace("$" + name + " ", arg + " ")
        if instruction == "FROM":
            words = value.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(words[0], name))
        elif instruction == "ARG" and not result:
            continue  # the build arguments FROM uses (build_args)
        elif instruction != "COMMENT":
            assert result, f"{path}: {instruction} before the first FROM"
            result[-1].instructions.append((instruction, value))
    return result


def is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag at all (a registry port is not a tag)
        return False
    return bool(PINNED_TAG.match(tag) or (name in TWO_PART_RELEASES and TWO_PART_RELEASES[name].match(tag)))


@dataclass
class Copy:
    sources: list[str]
    dest: str
    from_: str | None


def parse_copy(value: str) -> Copy:
    words = shlex.split(value)
    flags = [w for w in words if w.startswith("--")]
    rest = [w for w in words if not w.startswith("--")]
    if rest and rest[0].startswith("["):
        rest = json.loads(" ".join(rest))
    from_ = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
    return Copy(rest[:-1], rest[-1], from_)


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in stage.values("ENV"):
        for word in shlex.split(value):
            key, _, val = word.partition("=")
            env[key] = val
    return env


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    return compile_rules((ROOT / ".dockerignore").read_text().splitlines())


def compile_rules(lines: list[str]) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex, i = "", 0
        while i < len(pattern):  # Docker's matcher: ** any depth, * and ? within one path segment
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(regex)))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker leaves `path` (relative to the context) out: the last matching rule wins, and a rule
    that matches a parent directory matches everything below it."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    result = False
    for negated, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            result = not negated
    return result


def repo_files(under: str) -> list[str]:
    """Files git knows under a path, tracked or new but not ignored (generated files are not sent)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", under],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line for line in out.splitlines() if (ROOT / line).is_file()]


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(root["tool"]["uv"]["workspace"]["members"])


def console_scripts(service: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]
    return dict(project.get("scripts", {}))


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def built(service: str) -> list[Stage]:
    return stages(DOCKERFILE, service)


def test_one_dockerfile_for_every_service() -> None:
    assert DOCKERFILE.is_file()
    assert not list((ROOT / "services").glob("*/Dockerfile")), (
        "per-service Dockerfiles: use services/Dockerfile"
    )


def test_every_workspace_service_is_covered() -> None:
    members = {m.split("/", 1)[1] for m in workspace_members() if m.startswith("services/")}
    assert set(SERVICES) == members
    assert {"ocr", "generator", "review", "dedup", "evolver"} <= set(SERVICES)
    for name in SERVICES:
        assert (ROOT / "services" / name / "README.md").is_file(), f"services/{name} has no README.md"


def test_stages_and_pinned_bases(built: list[Stage]) -> None:
    found = built
    assert len(found) >= 2, "a builder stage and a runtime stage"
    names = {s.name for s in found if s.name}
    for stage in found:
        if stage.image in names:
            continue
        assert is_pinned(stage.image), f"FROM {stage.image}: pin an exact version"
        assert not stage.image.endswith(":latest")
    for stage in found:
        for value in stage.values("COPY") + stage.values("ADD"):
            source = parse_copy(value).from_
            if source and source not in names and not source.isdigit():
                assert is_pinned(source), f"COPY --from={source}: pin an exact version"


def test_runtime_stage(service: str, built: list[Stage]) -> None:
    final = built[-1]
    users = final.values("USER")
    assert users, "the runtime stage sets a USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, f"USER {users[-1]}: a numeric, non-root uid"
    assert not group or (group.isdigit() and int(group) != 0), f"USER {users[-1]}: a numeric, non-root gid"

    healthchecks = final.values("HEALTHCHECK")
    assert healthchecks and "NONE" not in healthchecks[-1].upper().split()
    assert "domainlm_chassis.grpc.probe" in healthchecks[-1]
    assert "127.0.0.1:" in healthchecks[-1]

    exposed = {p.split("/")[0] for v in final.values("EXPOSE") for p in v.split()}
    assert {"9100", "50051"} <= exposed

    entrypoints = final.values("ENTRYPOINT")
    assert entrypoints, "an ENTRYPOINT"
    argv = json.loads(entrypoints[-1])  # exec form, so SIGTERM reaches the service itself
    scripts = console_scripts(service)
    assert f"domainlm-{service}" in scripts, f"services/{service}/pyproject.toml declares domainlm-{service}"
    # one entry point name in every image, linked by the builder to this service's console script
    builder = next(s for s in built if s.name == "builder")
    link = next(v for v in builder.values("RUN") if "ln -s" in v)
    assert f'ln -s "/app/.venv/bin/domainlm-{service}" {argv[0]}' in link
    labels = " ".join(final.values("LABEL"))
    for key in ("title", "source", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_runtime_uses_the_builders_venv_and_python(built: list[Stage]) -> None:
    found = built
    final = found[-1]
    copies = [parse_copy(v) for v in final.values("COPY")]
    from_builder = [c for c in copies if c.from_ and c.from_ != final.name]
    assert from_builder, "the runtime stage copies the venv from a builder stage"
    venv = from_builder[0]
    builder = next(s for s in found if s.name == venv.from_)
    # A venv's python is a link to the interpreter it was made with: both stages must have the same one.
    assert builder.image == final.image
    project = env_of(builder)["UV_PROJECT_ENVIRONMENT"]
    assert venv.sources[0] == venv.dest and project.startswith(venv.dest + "/")
    assert env_of(final)["PATH"].startswith(f"{project}/bin:")
    assert env_of(builder)["UV_PYTHON"].startswith("/usr/bin/python3.11")  # Debian's, in both stages


def test_builder_installs_the_locked_service(service: str, built: list[Stage]) -> None:
    found = built
    builder = next(s for s in found if any("uv sync" in v for v in s.values("RUN")))
    steps = builder.instructions
    syncs = [i for i, (ins, v) in enumerate(steps) if ins == "RUN" and "uv sync" in v]
    for i in syncs:
        words = steps[i][1].split()
        assert "--frozen" in words and "--no-dev" in words, "installs exactly the lock, without dev tools"
        assert f"--package domainlm-{service}" in steps[i][1]
    assert "--no-editable" in steps[syncs[-1]][1].split(), "the venv must not point back at /src"

    copied = [(i, parse_copy(v)) for i, (ins, v) in enumerate(steps) if ins == "COPY"]
    before_first_sync = {s.rstrip("/") for i, c in copied if i < syncs[0] and not c.from_ for s in c.sources}
    # uv resolves the whole workspace from the lock: every member's pyproject.toml must be there.
    for member in workspace_members():
        assert f"{member}/pyproject.toml" in before_first_sync, f"{member}/pyproject.toml"
    assert {"pyproject.toml", "uv.lock"} <= before_first_sync

    before_install = {s.rstrip("/") for i, c in copied if i < syncs[-1] and not c.from_ for s in c.sources}
    # The chassis build generates its gRPC code from ../../proto.
    assert "proto" in before_install, "proto/ is copied before the chassis is built"
    for member in ("libs/domainlm", "libs/chassis", f"services/{service}"):
        assert any(member == s or member.startswith(s + "/") for s in before_install), member


def test_copy_sources_exist_and_reach_the_context(built: list[Stage]) -> None:
    rules = dockerignore_rules()
    for stage in built:
        for value in stage.values("COPY") + stage.values("ADD"):
            copy = parse_copy(value)
            if copy.from_:
                continue
            for source in copy.sources:
                matches = (
                    list(ROOT.glob(source.rstrip("/")))
                    if any(c in source for c in "*?[")
                    else [ROOT / source.rstrip("/")]
                )
                assert matches and all(m.exists() for m in matches), f"COPY {source}: not in the repository"
                for match in matches:
                    rel = match.relative_to(ROOT).as_posix()
                    assert not ignored(rel, rules), f"COPY {source}: .dockerignore leaves it out"
                    # Every file git knows under a copied directory is sent (prompt templates, protos...).
                    left_out = [f for f in repo_files(rel) if ignored(f, rules)]
                    assert not left_out, f"COPY {source}: .dockerignore leaves out {left_out[:5]}"


def test_ocr_image_has_the_ocr_tools() -> None:
    final = stages(DOCKERFILE, "ocr")[-1]
    [step] = [v for v in final.values("RUN") if "apt-get install" in v]
    assert '[ "ocr" = ocr ]' in step, "installed for the ocr image only"
    assert set(step.replace(";", " ").split()) >= OCR_PACKAGES
    # scripts/setup.sh installs the same tools for the one-process run.
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    for package in OCR_PACKAGES:
        assert package in setup


def test_dockerignore_keeps_local_state_out() -> None:
    rules = dockerignore_rules()
    for path in (
        ".venv/bin/python",
        ".venv-vllm/bin/python",
        "runs/demo/report.md",
        ".cache/x",
        ".kafka/libs",
        "tests/unit/test_cli.py",
        ".git/HEAD",
        "libs/domainlm/src/domainlm/__pycache__/cli.pyc",
    ):
        assert ignored(path, rules), path
    for path in (
        "uv.lock",
        "pyproject.toml",
        "proto/domainlm/v1/records.proto",
        "libs/domainlm/src/domainlm/prompts/generate-v1.txt",
        "services/ocr/pyproject.toml",
    ):
        assert not ignored(path, rules), path


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("python:3.11.14-slim-bookworm", True),
        ("ghcr.io/astral-sh/uv:0.13.9", True),
        ("vllm/vllm-openai:v0.30.0", True),
        ("python@sha256:" + "0" * 64, True),
        ("debian:12.12-slim", True),
        ("debian:bookworm-slim", False),
        ("python:3.11-slim", False),
        ("python:latest", False),
        ("python", False),
        ("localhost:5000/python", False),
    ],
)
def test_pin_rule(image: str, pinned: bool) -> None:
    assert is_pinned(image) is pinned


def test_ignore_rule() -> None:
    rules = compile_rules(["# comment", "**/__pycache__", "/a/*", "!a/keep", "", "b?c"])
    assert ignored("x/y/__pycache__/m.pyc", rules)
    assert ignored("a/b", rules) and ignored("a/b/c", rules)
    assert not ignored("a/keep", rules) and not ignored("b/a", rules)
    assert ignored("bxc/d", rules) and not ignored("bc", rules) and not ignored("b/c", rules)


def lock_closure(package: str) -> set[str]:
    """Every package uv.lock installs for `package` (with the extras its dependencies ask for)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    stack: list[tuple[str, tuple[str, ...]]] = [(package, ())]
    while stack:
        name, extras = stack.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        entry = packages[name]
        deps = list(entry.get("dependencies", []))
        for extra in extras:
            deps += entry.get("optional-dependencies", {}).get(extra, [])
        stack += [(d["name"], tuple(d.get("extra", []))) for d in deps]
    return {name for name, _ in seen}


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_trainer_image_carries_the_training_stack(service: str) -> None:
    installed = lock_closure(f"domainlm-{service}")
    training = {"torch", "transformers", "trl", "datasets"}
    if service == "trainer":
        assert training <= installed
    else:
        assert not training & installed, f"domainlm-{service} pulls {sorted(training & installed)}"
