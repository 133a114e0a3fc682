"""Publishing a trained model under a public name: to a local registry directory (embedded mode) or by
rolling the vLLM Deployment (Kubernetes). Both keep the history, so rollback is one call."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from domainlm.training.publish import MANIFEST, Registry, serve_current
from domainlm.training.publish import publish as gate_publish
from domainlm.training.servable import check_servable
from domainlm_trainer.kube import DeploymentPublisher

log = logging.getLogger("domainlm.trainer")


@dataclass
class Publication:
    name: str
    model_dir: str
    previous_model_dir: str = ""
    version: str = ""
    ready: bool = False
    message: str = ""


class Publisher(Protocol):
    def publish(self, model_dir: str, name: str, version: str, wait: float) -> Publication: ...

    def rollback(self, name: str, wait: float) -> Publication: ...


class LocalRegistryPublisher:
    """Embedded mode: the library's registry (domainlm.training.publish: REG/NAME/vNNNN, immutable and
    checked servable, an atomic `current` pointer with its history), optionally behind the evaluation
    gate (`eval_file`: the model must beat its base and the current version), and the local vLLM server
    restarted on the new current version when `vllm_port` is set (ready when /v1/models lists NAME)."""

    def __init__(
        self,
        root: Path,
        eval_file: Path | None = None,
        min_gain: float = 0.0,
        vllm_port: int = 0,
        enforce_eager: bool = False,
    ) -> None:
        self.root, self.eval_file, self.min_gain = root, eval_file, min_gain
        self.vllm_port, self.enforce_eager = vllm_port, enforce_eager

    def publish(self, model_dir: str, name: str, version: str = "", wait: float = 0.0) -> Publication:
        reg = Registry(self.root, name)
        previous = reg.current_path()
        model = Path(model_dir)
        check_servable(model)  # NotServable listing every problem, before anything is copied
        if self.eval_file is not None:  # the gate: PublishRefused when the model does not beat them
            made = gate_publish(model, self.root, name, self.eval_file, min_gain=self.min_gain, log=log.info)
            new = made.version
        else:
            manifest = {"name": name, "source": str(model.resolve()), "run": version, "gate": None}
            with reg.lock():
                new = reg.add_version(model, {MANIFEST: manifest})
                reg.set_current(new, "publish", source=manifest["source"], run=version)
        ready, message = self._serve(name, wait)
        return Publication(name, str(reg.dir / new), str(previous or ""), new, ready, message)

    def rollback(self, name: str, wait: float = 0.0) -> Publication:
        reg = Registry(self.root, name)
        previous = reg.current_path()
        pointer = reg.rollback()  # RegistryError when there is nothing to roll back to
        ready, message = self._serve(name, wait)
        return Publication(name, str(reg.dir / pointer["version"]), str(previous or ""), pointer["version"],
                           ready, message)  # fmt: skip

    def _serve(self, name: str, wait: float) -> tuple[bool, str]:
        if not self.vllm_port:
            return True, "published to the local registry (no local vLLM server configured)"
        serve_current(self.root, name, self.vllm_port, pidfile=self.root / name / "vllm.json",
                      log_path=self.root / name / "vllm.log", enforce_eager=self.enforce_eager,
                      startup_timeout=wait or 300.0)  # fmt: skip
        return True, f"the local vLLM server on :{self.vllm_port} serves {name}"


class KubernetesPublisher:
    """The vLLM Deployment serves the run's immutable model directory (runs/RUN/model on the shared
    volume, never written after the run succeeded) under the same --served-model-name."""

    def __init__(self, deployment: DeploymentPublisher) -> None:
        self.deployment = deployment

    def publish(self, model_dir: str, name: str, version: str = "", wait: float = 0.0) -> Publication:
        previous = self.deployment.publish(model_dir, name)
        ready, message = self.deployment.wait_ready(name, wait)
        return Publication(
            name, model_dir, previous or "", version or Path(model_dir).parent.name, ready, message
        )

    def rollback(self, name: str, wait: float = 0.0) -> Publication:
        target, previous = self.deployment.rollback(name)
        ready, message = self.deployment.wait_ready(name, wait)
        return Publication(name, target, previous or "", Path(target).parent.name, ready, message)
