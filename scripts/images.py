"""Build, check and push the service images with buildah (scripts/images.sh is the entry point).

    scripts/images.sh build [SERVICE...]              # all six when none is named
    scripts/images.sh check [SERVICE...]              # builds what is missing, then starts each image
    scripts/images.sh push REGISTRY [SERVICE...]      # e.g. registry.example.com/ml

No Docker engine runs on these machines and public base images may be out of reach, so by default the
images are built FROM a local Debian bookworm base that debootstrap makes (localhost/debian-base:bookworm);
`--base debian:12.12-slim@sha256:...` builds from a public one instead. `check` starts every image with
chroot isolation on the host network, next to the Kafka broker, Redis and PostgreSQL the tests use,
waits for its gRPC health to answer SERVING, checks that it runs as a non-root user and wrote nothing
outside /tmp (the chart mounts only that), stops it, and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["ocr", "generator", "review", "dedup", "evolver", "trainer"]
LOCAL_BASE = "localhost/debian-base:bookworm"
BUILDAH = ["buildah", "--storage-driver", "vfs"]
# Written by buildah itself when it sets a container up: not the service's doing.
RUNTIME_FILES = ("etc/hosts", "etc/resolv.conf", "etc/hostname", "run/.containerenv", "tmp")


def run(*argv: str, capture: bool = True, **kw: object) -> str:
    done = subprocess.run(list(argv), capture_output=capture, text=True, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}\n{(done.stderr or '')[-3000:]}")
    return str(done.stdout or "")


def version() -> str:
    import tomllib

    return str(
        tomllib.loads((ROOT / "libs" / "domainlm" / "pyproject.toml").read_text())["project"]["version"]
    )


def image_name(service: str, tag: str, registry: str = "localhost") -> str:
    """The name the chart expects under its `global.image.registry`: REGISTRY/domainlm-SERVICE:TAG."""
    return f"{registry.rstrip('/')}/domainlm-{service}:{tag}"


def exists(image: str) -> bool:
    return (
        subprocess.run([*BUILDAH, "inspect", "--type", "image", image], capture_output=True).returncode == 0
    )


def local_base() -> str:
    """localhost/debian-base:bookworm: debootstrap's minimal bookworm, committed as an image (once)."""
    if exists(LOCAL_BASE):
        return LOCAL_BASE
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is needed for the local base (Debian: apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="domainlm-base-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        print("images: debootstrap --variant=minbase bookworm (once) ...", file=sys.stderr)
        run("debootstrap", "--variant=minbase", "bookworm", str(rootfs), "http://deb.debian.org/debian")
        run("tar", "-C", str(rootfs), "-cf", str(tarball), ".")
        ctr = run(*BUILDAH, "from", "scratch").strip()
        try:
            run(*BUILDAH, "add", ctr, str(tarball), "/")
            run(*BUILDAH, "config", "--cmd", "/bin/bash", ctr)
            run(*BUILDAH, "commit", "-q", ctr, LOCAL_BASE)
        finally:
            subprocess.run([*BUILDAH, "rm", ctr], capture_output=True)
    return LOCAL_BASE


def revision() -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def source() -> str:
    done = subprocess.run(["git", "remote", "get-url", "origin"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def ca_bundle() -> str:
    """The host's CA bundle, lent to the build while it fetches (a TLS-inspecting proxy's CA included)."""
    for candidate in (os.environ.get("SSL_CERT_FILE", ""), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit("no CA bundle found: set SSL_CERT_FILE")


def build(service: str, base: str, tag: str) -> float:
    start = time.monotonic()
    print(f"images: building domainlm-{service}:{tag} from {base} ...", file=sys.stderr)
    # One squashed layer: with the vfs driver (no overlay here) every layer is a full copy of the tree,
    # so a 1.2 GB image in 14 layers would take ten times that on disk.
    run(*BUILDAH, "bud", "--isolation", "chroot", "--squash", "--format", "docker", "-f", "services/Dockerfile",
        "--build-arg", f"SERVICE={service}", "--build-arg", f"BASE={base}",
        "--build-arg", f"VERSION={tag}", "--build-arg", f"REVISION={revision()}",
        "--build-arg", f"SOURCE={source()}", "--secret", f"id=ca,src={ca_bundle()}",
        "-t", image_name(service, tag), ".",
        capture=False, cwd=ROOT)  # fmt: skip
    return time.monotonic() - start


@dataclass
class Check:
    service: str
    size: str
    user: str
    serving_s: float | None
    written: list[str]
    ok: bool
    why: str = ""


def image_size(image: str) -> str:
    """As buildah reports it (e.g. "412 MB")."""
    [entry] = json.loads(run(*BUILDAH, "images", "--json", image))
    return str(entry["size"])


def _serving(port: int) -> bool:
    probe = [str(ROOT / ".venv" / "bin" / "python"), "-m", "domainlm_chassis.grpc.probe", f"127.0.0.1:{port}"]
    return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0


def check(service: str, tag: str, env: dict[str, str], timeout: float = 180.0) -> Check:
    """Starts the image's entry point in a working container and watches what it does."""
    from domainlm.childproc import free_port

    image = image_name(service, tag)
    ctr = run(*BUILDAH, "from", "--pull-never", image).strip()
    mount = Path(run(*BUILDAH, "mount", ctr).strip())
    try:
        info = json.loads(run(*BUILDAH, "inspect", ctr))
        config = info["OCIv1"]["config"]
        entry, user = config.get("Entrypoint") or [], config.get("User", "")
        uid = run(*BUILDAH, "run", "--isolation", "chroot", ctr, "id", "-u").strip()
        grpc_port = free_port()
        prefix = f"DOMAINLM_{service.upper()}_"
        wiring = {f"{prefix}GRPC_PORT": str(grpc_port), f"{prefix}METRICS_PORT": str(free_port()),
                  "HOME": "/tmp", **{k.replace("{P}", prefix): v for k, v in env.items()}}  # fmt: skip
        if service == "review":
            wiring[f"{prefix}HTTP__PORT"] = str(free_port())
        marker = time.time()
        time.sleep(1.1)  # file times have a second's resolution on some filesystems
        argv = [*BUILDAH, "run", "--isolation", "chroot", "--network", "host"]
        for key, value in wiring.items():
            argv += ["--env", f"{key}={value}"]
        log = Path(tempfile.gettempdir()) / f"domainlm-image-{service}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*argv, ctr, *entry], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started, serving_s = time.monotonic(), None
        while time.monotonic() - started < timeout and proc.poll() is None:
            if _serving(grpc_port):
                serving_s = time.monotonic() - started
                break
            time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        written = sorted(
            str(p.relative_to(mount))
            for p in mount.rglob("*")
            if not p.is_symlink() and p.exists() and p.stat().st_mtime > marker
            and not str(p.relative_to(mount)).startswith(RUNTIME_FILES)
            and not p.is_dir()
        )  # fmt: skip
        why = []
        if serving_s is None:
            why.append(
                f"not SERVING in {timeout:.0f}s (log: {log}): {log.read_text(errors='replace')[-800:]}"
            )
        if uid in ("", "0") or user.split(":")[0] in ("", "0", "root"):
            why.append(f"runs as uid {uid!r} (USER {user!r})")
        if written:
            why.append(f"wrote outside /tmp: {written[:5]}")
        return Check(
            service, image_size(image), f"{uid} ({user})", serving_s, written, not why, "; ".join(why)
        )
    finally:
        subprocess.run([*BUILDAH, "umount", ctr], capture_output=True)
        subprocess.run([*BUILDAH, "rm", ctr], capture_output=True)


@contextlib.contextmanager
def models_endpoint() -> Iterator[str]:
    """An OpenAI-style `/v1/models` that lists the model `none`: the generator and evolver check at start
    that their teacher serves its model, and this check is about the image starting, not about a teacher
    (the tests run the real vLLM server for that)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Models(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"object": "list", "data": [{"id": "none", "object": "model"}]}).encode()
            self.send_response(200 if self.path.rstrip("/") == "/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


@contextlib.contextmanager
def infrastructure() -> Iterator[dict[str, str]]:
    """Kafka, Redis and PostgreSQL as local processes, and the environment that points the images at them
    ({P} stands for each service's prefix)."""
    from domainlm_chassis.broker import KafkaBroker
    from domainlm_chassis.stores import PostgresServer, RedisServer

    with (
        KafkaBroker() as kafka,
        RedisServer() as redis,
        PostgresServer() as postgres,
        models_endpoint() as teacher,
    ):
        yield {
            "{P}BOOTSTRAP": kafka.bootstrap, "{P}REDIS_URL": redis.url, "{P}DATABASE_URL": postgres.url,
            "{P}TEACHER__BASE_URL": teacher, "{P}TEACHER__MODEL": "none",
            "{P}CHUNKS_TOPIC": "", "{P}JUDGE__ENABLED": "false", "{P}TOPIC_PARTITIONS": "2",
        }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description="Build, check and push domainlm's service images (buildah).")
    parser.add_argument("action", choices=["build", "check", "push"])
    parser.add_argument("args", nargs="*", help="services (default: all); for push: REGISTRY first")
    parser.add_argument(
        "--base", default="", help=f"base image (default: {LOCAL_BASE}, made with debootstrap)"
    )
    parser.add_argument("--tag", default="", help="image tag (default: the project's version)")
    parser.add_argument("--rebuild", action="store_true", help="check: build even when the image exists")
    options = parser.parse_args()
    tag = options.tag or version()
    if shutil.which("buildah") is None:
        raise SystemExit("buildah is needed (Debian: apt-get install buildah)")
    names = options.args[1:] if options.action == "push" else options.args
    unknown = set(names) - set(SERVICES)
    if unknown:
        raise SystemExit(f"unknown service(s) {sorted(unknown)}: choose from {SERVICES}")
    services = names or SERVICES
    if options.action == "push":
        if not options.args:
            raise SystemExit("push needs a registry, e.g. registry.example.com/ml")
        for service in services:
            target = image_name(service, tag, options.args[0])
            run(*BUILDAH, "push", image_name(service, tag), f"docker://{target}", capture=False)
            print(f"pushed {target}")
        return 0
    base = options.base or local_base()
    built = {}
    for service in services:
        if options.action == "build" or options.rebuild or not exists(image_name(service, tag)):
            built[service] = build(service, base, tag)
    if options.action == "build":
        for service, seconds in built.items():
            print(f"built {image_name(service, tag)} in {seconds:.0f}s")
        return 0
    print("| image | size | start to SERVING s | user | result |\n|---|---:|---:|---|---|")
    failed = 0
    with infrastructure() as env:
        for service in services:
            result = check(service, tag, env)
            failed += not result.ok
            serving = f"{result.serving_s:.1f}" if result.serving_s is not None else "-"
            print(f"| domainlm-{service}:{tag} | {result.size} | {serving} | {result.user} | "
                  f"{'ok' if result.ok else 'FAILED: ' + result.why} |", flush=True)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
