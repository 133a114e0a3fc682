"""A real Kubernetes API server for integration tests: kube-apiserver with etcd, no kubelet and no
controllers (nothing runs pods; tests write Job and Deployment status as controllers would).

etcd comes from Debian's `etcd-server`, kube-apiserver is built from its Go module by
scripts/setup-kube.sh into .cache/kube/. Authorization is RBAC, as in a real cluster: the admin token
belongs to system:masters, and ServiceAccount tokens (TokenRequest, signed with the server's own keys)
get exactly what their Roles grant.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from corpus import ROOT
from domainlm.childproc import free_port, stop_group

ADMIN_TOKEN = "domainlm-test-token"
ISSUER = "https://kubernetes.default.svc"


class Unavailable(RuntimeError):
    """No API server can run here (a tool is missing); the message says which and how to get it."""


@dataclass
class KubeApi:
    host: str
    ca_file: Path
    client: k8s.ApiClient

    def client_for(self, token: str) -> k8s.ApiClient:
        config = k8s.Configuration(host=self.host)
        config.ssl_ca_cert = str(self.ca_file)
        config.api_key = {"authorization": token}
        config.api_key_prefix = {"authorization": "Bearer"}
        return k8s.ApiClient(config)

    def kubeconfig(self, path: Path, token: str = ADMIN_TOKEN, namespace: str = "default") -> Path:
        """A kubeconfig file for tools (helm) and for services that load one."""
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "test",
                            "cluster": {"server": self.host, "certificate-authority": str(self.ca_file)},
                        }
                    ],
                    "users": [{"name": "test", "user": {"token": token}}],
                    "contexts": [
                        {
                            "name": "test",
                            "context": {"cluster": "test", "user": "test", "namespace": namespace},
                        }
                    ],
                    "current-context": "test",
                }
            )
        )
        path.chmod(0o600)
        return path

    def service_account_token(self, namespace: str, name: str, seconds: int = 3600) -> str:
        """What the kubelet would mount into the pod: a token bound to the ServiceAccount."""
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[ISSUER], expiration_seconds=seconds)
        )
        made = k8s.CoreV1Api(self.client).create_namespaced_service_account_token(name, namespace, request)
        return str(made.status.token)


def apiserver_binary() -> Path:
    """kube-apiserver from scripts/setup-kube.sh: built on first use (about 6.5 minutes on 2 cores with
    cold Go caches, seconds after), unless DOMAINLM_KUBE_BUILD=0 asks to use only what is there."""
    if os.environ.get("DOMAINLM_KUBE_BUILD", "1") != "0":
        setup = subprocess.run([str(ROOT / "scripts" / "setup-kube.sh")], capture_output=True, text=True)
        if setup.returncode != 0:
            why = [line for line in setup.stderr.splitlines() if "downloading" not in line][-5:]
            raise Unavailable(
                "scripts/setup-kube.sh could not provide etcd and kube-apiserver: " + " | ".join(why)
            )
    found = sorted((ROOT / ".cache" / "kube").glob("kube-apiserver-v*"))
    found = [p for p in found if not p.name.endswith(".tmp") and os.access(p, os.X_OK)]
    if not found:
        raise Unavailable("kube-apiserver is not built (run scripts/setup-kube.sh)")
    return found[-1]


def _wait(check: Any, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready in {timeout}s:\n{log.read_text(errors='replace')[-4000:]}")


@contextlib.contextmanager
def running_apiserver(d: Path) -> Iterator[KubeApi]:
    binary, etcd = apiserver_binary(), shutil.which("etcd")
    if etcd is None:
        raise Unavailable("etcd is not installed (Debian: etcd-server; scripts/setup-kube.sh)")
    if shutil.which("openssl") is None:
        raise Unavailable("openssl is needed for the service-account keys")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        client_port, peer_port = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                [etcd, "--name", "default", "--data-dir", str(d / "etcd"),
                 "--listen-client-urls", f"http://127.0.0.1:{client_port}",
                 "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
                 "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                 "--initial-cluster", f"default=http://127.0.0.1:{peer_port}",
                 "--unsafe-no-fsync"],
                stdout=(d / "etcd.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
        # service-account token signing keys
        subprocess.run(
            ["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"], check=True, capture_output=True
        )
        subprocess.run(
            ["openssl", "rsa", "-in", str(d / "sa.key"), "-pubout", "-out", str(d / "sa.pub")],
            check=True, capture_output=True,
        )  # fmt: skip
        (d / "tokens.csv").write_text(f'{ADMIN_TOKEN},admin,admin,"system:masters"\n')
        port = free_port()
        log = d / "apiserver.log"
        procs.append(
            subprocess.Popen(
                [str(binary), f"--etcd-servers=http://127.0.0.1:{client_port}",
                 "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
                 f"--cert-dir={d / 'certs'}", f"--token-auth-file={d / 'tokens.csv'}",
                 "--authorization-mode=RBAC",
                 f"--service-account-issuer={ISSUER}",
                 f"--service-account-key-file={d / 'sa.pub'}",
                 f"--service-account-signing-key-file={d / 'sa.key'}",
                 "--service-cluster-ip-range=10.96.0.0/16",
                 "--enable-priority-and-fairness=false"],
                stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
        host = f"https://127.0.0.1:{port}"
        # TLS checked against the certificate the server made for itself in --cert-dir
        api = KubeApi(host, d / "certs" / "apiserver.crt", client=None)  # type: ignore[arg-type]
        _wait(lambda: (d / "certs" / "apiserver.crt").exists(), 180, "kube-apiserver", procs[-1], log)
        api.client = api.client_for(ADMIN_TOKEN)
        core, rbac = k8s.CoreV1Api(api.client), k8s.RbacAuthorizationV1Api(api.client)
        # ready when the default namespace is there and RBAC's bootstrap roles are written
        _wait(
            lambda: core.read_namespace("default") and rbac.read_cluster_role("admin"),
            180,
            "kube-apiserver",
            procs[-1],
            log,
        )
        yield api
    finally:
        for p in reversed(procs):
            stop_group(p, timeout=20)


def complete_rollouts(apps: k8s.AppsV1Api, namespace: str, name: str, stop: threading.Event) -> None:
    """The Deployment controller's part: whenever the spec changes, report every replica updated."""
    while not stop.is_set():
        dep = apps.read_namespaced_deployment_status(name, namespace)
        if (dep.status.observed_generation if dep.status else 0) != dep.metadata.generation:
            n = dep.spec.replicas
            dep.status = k8s.V1DeploymentStatus(
                observed_generation=dep.metadata.generation, replicas=n, updated_replicas=n,
                ready_replicas=n, available_replicas=n,
            )  # fmt: skip
            try:
                apps.replace_namespaced_deployment_status(name, namespace, dep)
            except ApiException as e:
                if e.status != 409:  # a conflict: read again
                    raise
        stop.wait(0.2)
