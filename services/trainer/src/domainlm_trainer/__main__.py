"""`domainlm-trainer`: the trainer service's gRPC server (TrainerService and health) until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from prometheus_client import start_http_server

from domainlm_chassis.grpc.server import start_grpc_server
from domainlm_trainer.kube import DeploymentPublisher, KubernetesBackend
from domainlm_trainer.local import LocalBackend
from domainlm_trainer.publish import KubernetesPublisher, LocalRegistryPublisher, Publisher
from domainlm_trainer.runs import Backend
from domainlm_trainer.servicer import TrainerServicer
from domainlm_trainer.settings import TrainerSettings

log = logging.getLogger("domainlm.trainer")


def kube_api(settings: TrainerSettings) -> Any:
    from kubernetes import client, config

    if settings.kubeconfig:
        config.load_kube_config(config_file=settings.kubeconfig)
    else:
        config.load_incluster_config()
    return client.ApiClient()


def build(settings: TrainerSettings) -> TrainerServicer:
    """The servicer with the configured backend (the local one is always there too) and publisher."""
    backends: dict[str, Backend] = {"local": LocalBackend(settings.runs_dir, settings.cli)}
    publisher: Publisher = LocalRegistryPublisher(
        settings.registry_dir,
        settings.eval_file,
        settings.min_gain,
        settings.local_vllm_port,
        settings.local_vllm_enforce_eager,
    )
    if settings.backend == "kubernetes":
        api = kube_api(settings)
        backends["kubernetes"] = KubernetesBackend(settings, api)
        publisher = KubernetesPublisher(DeploymentPublisher(settings, api))
    return TrainerServicer(settings, backends, publisher)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = TrainerSettings()
    servicer = build(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=servicer.metrics.registry)
    server = start_grpc_server(settings.grpc_port, [servicer])
    log.info("trainer serving gRPC on :%d (backend %s)", settings.grpc_port, settings.backend)
    stop.wait()
    server.stop(grace=10).wait()


if __name__ == "__main__":
    main()
