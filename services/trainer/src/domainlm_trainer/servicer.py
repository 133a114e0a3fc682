"""gRPC TrainerService: start, follow, cancel and watch training runs; publish and roll back models."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry, Counter

from domainlm.training.publish import PublishRefused, RegistryError
from domainlm.training.servable import NotServable
from domainlm_chassis.grpc.codecs import InvalidRequest
from domainlm_chassis.grpc.server import status_for
from domainlm_chassis.protos.domainlm.v1 import trainer_pb2, trainer_pb2_grpc
from domainlm_trainer.publish import Publication, Publisher
from domainlm_trainer.runs import (
    RUN_ID,
    Backend,
    RunConfig,
    RunExists,
    RunNotFound,
    RunSpec,
    RunStatus,
    new_run_id,
)
from domainlm_trainer.settings import TrainerSettings

WATCH_LOG_LINES = 100_000
SPEC = "spec.json"
FINAL = "final.json"  # a finished run's status: final, even when its Job is later deleted (TTL)


class RunStore:
    """Every run's spec, as RUNS_DIR/<id>/spec.json (so runs outlive a restart of the service)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def add(self, spec: RunSpec) -> None:
        with self._lock:
            d = self.root / spec.id
            if (d / SPEC).exists():
                raise RunExists(f"run {spec.id!r} exists")
            d.mkdir(parents=True, exist_ok=True)
            (d / SPEC).write_text(json.dumps(spec.to_json(), ensure_ascii=False), encoding="utf-8")

    def get(self, run_id: str) -> RunSpec:
        f = self.root / run_id / SPEC
        if not RUN_ID.match(run_id) or not f.exists():
            raise RunNotFound(f"no run {run_id!r}")
        return RunSpec.from_json(json.loads(f.read_text(encoding="utf-8")))

    def final(self, run_id: str) -> RunStatus | None:
        f = self.root / run_id / FINAL
        return RunStatus(**json.loads(f.read_text(encoding="utf-8"))) if f.exists() else None

    def set_final(self, run_id: str, status: RunStatus) -> None:
        tmp = self.root / run_id / f".{FINAL}.{threading.get_ident()}"
        tmp.write_text(json.dumps(asdict(status)), encoding="utf-8")
        tmp.replace(self.root / run_id / FINAL)

    def all(self) -> list[RunSpec]:
        if not self.root.is_dir():
            return []
        specs = [self.get(p.parent.name) for p in self.root.glob(f"*/{SPEC}")]
        return sorted(specs, key=lambda s: s.created_at, reverse=True)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.started = Counter(
            "domainlm_trainer_runs_started", "training runs started", ["backend"], registry=self.registry
        )
        self.finished = Counter(
            "domainlm_trainer_runs_finished", "training runs seen finished", ["backend", "state"],
            registry=self.registry,
        )  # fmt: skip
        self.published = Counter(
            "domainlm_trainer_publications",
            "publish and rollback calls done",
            ["action"],
            registry=self.registry,
        )


def _run_proto(spec: RunSpec, status: RunStatus) -> trainer_pb2.Run:
    c = spec.config
    return trainer_pb2.Run(
        id=spec.id, state=status.state, stage=status.stage, backend=spec.backend, message=status.message,
        model_dir=status.model_dir, sft_data_uri=spec.sft_data, dpo_data_uri=spec.dpo_data,
        created_at=spec.created_at,
        config=trainer_pb2.TrainingConfig(
            base_model=c.base_model, sft_epochs=c.sft_epochs, sft_lr=c.sft_lr, dpo_epochs=c.dpo_epochs,
            dpo_lr=c.dpo_lr, max_steps=c.max_steps, backend=spec.backend,
            resources=trainer_pb2.Resources(gpus=c.gpus, nodes=c.nodes, cpu=c.cpu, memory=c.memory),
        ),
    )  # fmt: skip


def _publication_proto(p: Publication) -> trainer_pb2.Publication:
    return trainer_pb2.Publication(**asdict(p))


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    service_name = trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name

    def __init__(
        self,
        settings: TrainerSettings,
        backends: Mapping[str, Backend],
        publisher: Publisher,
        store: RunStore | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings, self.backends, self.publisher = settings, dict(backends), publisher
        self.store = store or RunStore(settings.runs_dir)
        self.metrics = metrics or Metrics()

    def add_to(self, server: grpc.Server) -> None:
        trainer_pb2_grpc.add_TrainerServiceServicer_to_server(self, server)

    def _backend(self, spec: RunSpec) -> Backend:
        return self.backends[spec.backend]

    def _status(self, spec: RunSpec) -> RunStatus:
        final = self.store.final(spec.id)
        if final is not None:
            return final
        return self._remember(spec, self._backend(spec).status(spec))

    def _remember(self, spec: RunSpec, status: RunStatus) -> RunStatus:
        if status.finished:
            self.store.set_final(spec.id, status)
            self.metrics.finished.labels(spec.backend, status.state).inc()
        return status

    @status_for((RunExists, grpc.StatusCode.ALREADY_EXISTS))
    def StartRun(
        self, request: trainer_pb2.StartRunRequest, context: grpc.ServicerContext
    ) -> trainer_pb2.StartRunResponse:
        s, c = self.settings, request.config
        if not request.sft_data_uri:
            raise InvalidRequest("sft_data_uri is required")
        if not c.base_model:
            raise InvalidRequest("config.base_model is required")
        backend = c.backend or s.backend
        if backend not in self.backends:
            raise InvalidRequest(f"backend {backend!r} is not available here (have {sorted(self.backends)})")
        run_id = request.run_id or new_run_id()
        if not RUN_ID.match(run_id):
            raise InvalidRequest(f"run_id {run_id!r}: lowercase letters, digits and '-', at most 40")
        r = c.resources
        if r.gpus < 0 or r.nodes < 0 or c.max_steps < 0:
            raise InvalidRequest("gpus, nodes and max_steps must not be negative")
        config = RunConfig(
            base_model=c.base_model, sft_epochs=c.sft_epochs or s.sft_epochs, sft_lr=c.sft_lr or s.sft_lr,
            dpo_epochs=c.dpo_epochs or s.dpo_epochs, dpo_lr=c.dpo_lr or s.dpo_lr, max_steps=c.max_steps,
            gpus=r.gpus or s.gpus, nodes=r.nodes or 1, cpu=r.cpu or s.cpu, memory=r.memory or s.memory,
        )  # fmt: skip
        spec = RunSpec(run_id, request.sft_data_uri, request.dpo_data_uri, config, backend)
        self.store.add(spec)
        status = self._backend(spec).submit(spec)
        self.metrics.started.labels(backend).inc()
        return trainer_pb2.StartRunResponse(run=_run_proto(spec, status))

    @status_for((RunNotFound, grpc.StatusCode.NOT_FOUND))
    def GetRun(
        self, request: trainer_pb2.GetRunRequest, context: grpc.ServicerContext
    ) -> trainer_pb2.GetRunResponse:
        if request.log_lines < 0:
            raise InvalidRequest("log_lines must not be negative")
        spec = self.store.get(request.id)
        status = self._status(spec)
        lines = self._backend(spec).logs(spec, request.log_lines) if request.log_lines else []
        return trainer_pb2.GetRunResponse(run=_run_proto(spec, status), log_lines=lines)

    @status_for()
    def ListRuns(
        self, request: trainer_pb2.ListRunsRequest, context: grpc.ServicerContext
    ) -> trainer_pb2.ListRunsResponse:
        return trainer_pb2.ListRunsResponse(runs=[_run_proto(s, self._status(s)) for s in self.store.all()])

    @status_for((RunNotFound, grpc.StatusCode.NOT_FOUND))
    def CancelRun(
        self, request: trainer_pb2.CancelRunRequest, context: grpc.ServicerContext
    ) -> trainer_pb2.CancelRunResponse:
        spec = self.store.get(request.id)
        status = self._status(spec)
        if not status.finished:
            status = self._remember(spec, self._backend(spec).cancel(spec))
        return trainer_pb2.CancelRunResponse(run=_run_proto(spec, status))

    @status_for((RunNotFound, grpc.StatusCode.NOT_FOUND))
    def WatchRun(
        self, request: trainer_pb2.WatchRunRequest, context: grpc.ServicerContext
    ) -> Iterator[trainer_pb2.WatchRunResponse]:
        spec = self.store.get(request.id)  # NOT_FOUND before the stream starts
        return self._watch(spec, request.poll_seconds or self.settings.poll_seconds, context)

    def _watch(
        self, spec: RunSpec, poll: float, context: grpc.ServicerContext
    ) -> Iterator[trainer_pb2.WatchRunResponse]:
        backend, last, sent, offset = self._backend(spec), None, 0, 0
        read_log = getattr(backend, "read_log", None)  # a log file read on from an offset (local)
        while context.is_active():
            status = self._status(spec)
            if read_log is not None:
                new, offset = read_log(spec, offset)
            else:  # a pod's log tail, counted in lines
                lines = backend.logs(spec, WATCH_LOG_LINES)
                if len(lines) < sent:  # a new pod (a retry) started its log afresh
                    sent = 0
                new, sent = lines[sent:], len(lines)
            key = (status.state, status.stage, status.message)
            if key != last or new:
                last = key
                yield trainer_pb2.WatchRunResponse(run=_run_proto(spec, status), log_lines=new)
            if status.finished:
                return
            time.sleep(poll)

    def _publish_target(self, request: trainer_pb2.PublishRequest) -> tuple[str, str]:
        if request.run_id and request.model_dir:
            raise InvalidRequest("give run_id or model_dir, not both")
        if request.run_id:
            spec = self.store.get(request.run_id)
            status = self._status(spec)
            if status.state != "succeeded":
                raise InvalidRequest(f"run {spec.id} is {status.state}, not succeeded: nothing to publish")
            return status.model_dir, spec.id
        if request.model_dir:
            return request.model_dir, ""
        raise InvalidRequest("run_id or model_dir is required")

    @status_for(
        (RunNotFound, grpc.StatusCode.NOT_FOUND),
        (NotServable, grpc.StatusCode.FAILED_PRECONDITION),
        (PublishRefused, grpc.StatusCode.FAILED_PRECONDITION),  # the evaluation gate said no
        (RegistryError, grpc.StatusCode.FAILED_PRECONDITION),
        (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
    )
    def Publish(
        self, request: trainer_pb2.PublishRequest, context: grpc.ServicerContext
    ) -> trainer_pb2.PublishResponse:
        model_dir, version = self._publish_target(request)
        wait = request.wait_seconds or self.settings.rollout_timeout
        pub = self.publisher.publish(
            model_dir, request.name or self.settings.served_model_name, version, wait
        )
        self.metrics.published.labels("publish").inc()
        return trainer_pb2.PublishResponse(publication=_publication_proto(pub))

    @status_for(
        (LookupError, grpc.StatusCode.FAILED_PRECONDITION),
        (RegistryError, grpc.StatusCode.FAILED_PRECONDITION),
        (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
    )
    def Rollback(
        self, request: trainer_pb2.RollbackRequest, context: grpc.ServicerContext
    ) -> trainer_pb2.RollbackResponse:
        wait = request.wait_seconds or self.settings.rollout_timeout
        pub = self.publisher.rollback(request.name or self.settings.served_model_name, wait)
        self.metrics.published.labels("rollback").inc()
        return trainer_pb2.RollbackResponse(publication=_publication_proto(pub))
