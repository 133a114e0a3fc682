"""TrainerService over a real gRPC channel: runs on the local backend (fake stages), watch, cancel,
publishing to a local registry and rollback, health."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpcutil import health, serving
from trainer_fakes import fake_stages

from domainlm.tinymodel import build_tiny_model
from domainlm_chassis.protos.domainlm.v1 import trainer_pb2 as pb
from domainlm_chassis.protos.domainlm.v1 import trainer_pb2_grpc
from domainlm_trainer.local import LocalBackend
from domainlm_trainer.publish import LocalRegistryPublisher
from domainlm_trainer.servicer import TrainerServicer
from domainlm_trainer.settings import TrainerSettings


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(
        tmp_path_factory.mktemp("m") / "tiny", ["보험금 지급 제1조"], vocab_size=400, hidden_size=64, layers=1
    )


@pytest.fixture
def stub(tmp_path: Path, tiny: Path) -> Iterator[trainer_pb2_grpc.TrainerServiceStub]:
    settings = TrainerSettings(runs_dir=tmp_path / "runs", registry_dir=tmp_path / "reg", poll_seconds=0.05)
    slow = "import os, time\nif 'slow' in os.getcwd(): time.sleep(60)"
    backend = LocalBackend(settings.runs_dir, "domainlm", fake_stages({"sft": slow}, model=tiny))
    servicer = TrainerServicer(settings, {"local": backend}, LocalRegistryPublisher(settings.registry_dir))
    with serving(servicer) as channel:
        assert health(channel, servicer.service_name) == "SERVING"
        yield trainer_pb2_grpc.TrainerServiceStub(channel)


def _start(stub: trainer_pb2_grpc.TrainerServiceStub, run_id: str) -> pb.Run:
    request = pb.StartRunRequest(
        sft_data_uri="file:///snap/sft.jsonl", dpo_data_uri="file:///snap/dpo.jsonl", run_id=run_id,
        config=pb.TrainingConfig(base_model="/models/base", sft_epochs=2, resources=pb.Resources(gpus=0)),
    )  # fmt: skip
    return stub.StartRun(request, timeout=10).run


def _code(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as e:
        call()
    return e.value.code()  # type: ignore[no-any-return]


def test_run_watch_and_publish(stub: trainer_pb2_grpc.TrainerServiceStub, tmp_path: Path) -> None:
    run = _start(stub, "run-1")
    assert run.id == "run-1" and run.backend == "local" and run.state in ("pending", "running")
    assert run.config.sft_epochs == 2 and run.config.dpo_epochs == 1.0  # the service's default filled in

    events = list(stub.WatchRun(pb.WatchRunRequest(id="run-1"), timeout=60))
    assert events[-1].run.state == "succeeded"
    logs = [line for e in events for line in e.log_lines]
    assert [line for line in logs if line.startswith("stage ")] == [
        "stage sft on file:///snap/sft.jsonl",
        "stage dpo on file:///snap/sft.jsonl",
    ]
    got = stub.GetRun(pb.GetRunRequest(id="run-1", log_lines=1), timeout=10)
    assert got.run.state == "succeeded" and got.run.model_dir == str(tmp_path / "runs" / "run-1" / "model")
    assert len(got.log_lines) == 1
    assert [r.id for r in stub.ListRuns(pb.ListRunsRequest(), timeout=10).runs] == ["run-1"]
    # cancelling a finished run changes nothing
    assert stub.CancelRun(pb.CancelRunRequest(id="run-1"), timeout=10).run.state == "succeeded"

    first = stub.Publish(pb.PublishRequest(run_id="run-1", name="domainlm"), timeout=30).publication
    assert (first.name, first.version, first.ready, first.previous_model_dir) == (
        "domainlm",
        "v0001",
        True,
        "",
    )
    assert (Path(first.model_dir) / "config.json").exists()
    assert not (Path(first.model_dir) / "checkpoints").exists()
    second = stub.Publish(
        pb.PublishRequest(model_dir=got.run.model_dir, name="domainlm"), timeout=30
    ).publication
    assert second.version == "v0002" and second.previous_model_dir == first.model_dir
    back = stub.Rollback(pb.RollbackRequest(name="domainlm"), timeout=10).publication
    assert (
        back.version == "v0001"
        and back.model_dir == first.model_dir
        and back.previous_model_dir == second.model_dir
    )


def test_cancel_a_running_run(stub: trainer_pb2_grpc.TrainerServiceStub) -> None:
    _start(stub, "slow-1")  # the fake SFT stage sleeps in a run directory named slow-*
    deadline = time.monotonic() + 20
    while stub.GetRun(pb.GetRunRequest(id="slow-1"), timeout=10).run.state != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stub.CancelRun(pb.CancelRunRequest(id="slow-1"), timeout=10)
    events = list(stub.WatchRun(pb.WatchRunRequest(id="slow-1"), timeout=20))
    assert events[-1].run.state == "cancelled" and events[-1].run.stage == "sft"
    # a cancelled run has nothing to publish
    assert (
        _code(lambda: stub.Publish(pb.PublishRequest(run_id="slow-1"), timeout=10))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_errors(stub: trainer_pb2_grpc.TrainerServiceStub) -> None:
    nf = grpc.StatusCode.NOT_FOUND
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    assert _code(lambda: stub.GetRun(pb.GetRunRequest(id="nope"), timeout=10)) == nf
    assert _code(lambda: list(stub.WatchRun(pb.WatchRunRequest(id="nope"), timeout=10))) == nf
    assert _code(lambda: stub.CancelRun(pb.CancelRunRequest(id="../etc"), timeout=10)) == nf
    assert (
        _code(lambda: stub.StartRun(pb.StartRunRequest(config=pb.TrainingConfig(base_model="b")), timeout=10))
        == invalid
    )
    no_base = pb.StartRunRequest(sft_data_uri="s.jsonl")
    assert _code(lambda: stub.StartRun(no_base, timeout=10)) == invalid
    bad_id = pb.StartRunRequest(
        sft_data_uri="s.jsonl", run_id="Bad_ID", config=pb.TrainingConfig(base_model="b")
    )
    assert _code(lambda: stub.StartRun(bad_id, timeout=10)) == invalid
    kube = pb.StartRunRequest(
        sft_data_uri="s.jsonl", config=pb.TrainingConfig(base_model="b", backend="kubernetes")
    )
    assert _code(lambda: stub.StartRun(kube, timeout=10)) == invalid
    _start(stub, "run-dup")
    assert _code(lambda: _start(stub, "run-dup")) == grpc.StatusCode.ALREADY_EXISTS
    assert (
        _code(lambda: stub.Rollback(pb.RollbackRequest(name="never"), timeout=10))
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    assert _code(lambda: stub.Publish(pb.PublishRequest(), timeout=10)) == invalid
    not_servable = pb.PublishRequest(model_dir="/nonexistent", name="domainlm")
    assert _code(lambda: stub.Publish(not_servable, timeout=10)) == grpc.StatusCode.FAILED_PRECONDITION


def test_the_evaluation_gate_refuses_a_model_with_nothing_to_beat(tmp_path: Path, tiny: Path) -> None:
    # a model whose summary names no base: the library's gate refuses before evaluating anything
    held_out = tmp_path / "held_out.jsonl"
    row = {
        "messages": [{"role": "user", "content": "보험금은?"}, {"role": "assistant", "content": "3일 이내"}]
    }
    held_out.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    settings = TrainerSettings(runs_dir=tmp_path / "runs", registry_dir=tmp_path / "reg")
    publisher = LocalRegistryPublisher(settings.registry_dir, eval_file=held_out)
    servicer = TrainerServicer(settings, {}, publisher)
    with serving(servicer) as channel:
        stub = trainer_pb2_grpc.TrainerServiceStub(channel)
        with pytest.raises(grpc.RpcError) as e:
            stub.Publish(pb.PublishRequest(model_dir=str(tiny), name="domainlm"), timeout=30)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no base to compare with" in str(e.value.details())
    assert not (tmp_path / "reg" / "domainlm" / "v0001").exists()
