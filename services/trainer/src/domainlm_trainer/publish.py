"""Publishing a trained model under a public name: to a local registry directory (embedded mode) or by
rolling the vLLM Deployment (Kubernetes). Both keep the history, so rollback is one call."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from domainlm.training.servable import check_servable
from domainlm_trainer.kube import DeploymentPublisher

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
VERSION = re.compile(r"^v(\d{4,})$")
NOT_COPIED = shutil.ignore_patterns("checkpoints", "*.partial", ".*", "runs")


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


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise ValueError(f"model name {name!r}: letters, digits, '.', '_' and '-' only")


class LocalRegistryPublisher:
    """REG/NAME/vNNNN/ (immutable copies, checked servable), REG/NAME/current.json, REG/NAME/history.jsonl.

    A version directory is filled under a staging name and renamed into place, never written again.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def _lock(self, name: str) -> Iterator[Path]:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        with (d / ".lock").open("w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield d
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def current(self, name: str) -> dict[str, str] | None:
        f = self.root / name / "current.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else None

    def _point(self, d: Path, version: str, action: str) -> None:
        entry = {"version": version, "path": str(d / version), "action": action, "at": time.time()}
        tmp = d / f".current.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        os.replace(tmp, d / "current.json")
        with (d / "history.jsonl").open("a", encoding="utf-8") as h:
            h.write(json.dumps(entry) + "\n")

    def history(self, name: str) -> list[dict[str, str]]:
        f = self.root / name / "history.jsonl"
        if not f.exists():
            return []
        return [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]

    def publish(self, model_dir: str, name: str, version: str = "", wait: float = 0.0) -> Publication:
        _check_name(name)
        src = Path(model_dir)
        check_servable(src)  # NotServable (a ValueError) listing every problem
        with self._lock(name) as d:
            previous = self.current(name)
            numbers = [int(m.group(1)) for p in d.iterdir() if (m := VERSION.match(p.name))]
            version = f"v{max(numbers, default=0) + 1:04d}"
            staging = d / f".staging-{uuid.uuid4().hex}"
            shutil.copytree(src, staging, ignore=NOT_COPIED)
            (staging / "publish.json").write_text(
                json.dumps(
                    {"name": name, "version": version, "source": str(src.resolve()), "at": time.time()}
                ),
                encoding="utf-8",
            )
            staging.rename(d / version)
            self._point(d, version, "publish")
        return Publication(name, str(d / version), previous["path"] if previous else "", version, True,
                           "published to the local registry")  # fmt: skip

    def rollback(self, name: str, wait: float = 0.0) -> Publication:
        _check_name(name)
        with self._lock(name) as d:
            current = self.current(name)
            if current is None:
                raise LookupError(f"{name}: nothing published")
            served = [h["version"] for h in self.history(name)]
            # the version served before the current one took over
            while served and served[-1] == current["version"]:
                served.pop()
            if not served:
                raise LookupError(f"{name}: no earlier version to roll back to")
            target = served[-1]
            self._point(d, target, "rollback")
        return Publication(name, str(d / target), current["path"], target, True, "rolled back")


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
