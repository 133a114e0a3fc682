"""The trainer service's local backend with the real CLI: a run of `domainlm train sft` then
`domainlm train dpo` on a tiny model (CPU, two steps each), followed over gRPC, published into the local
registry as a servable, immutable version; and the `domainlm-trainer` process serving health."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpcutil import health, serving

from domainlm.childproc import free_port
from domainlm.tinymodel import IM_END, build_tiny_model
from domainlm.training import check_servable
from domainlm.training.publish import stop_recorded
from domainlm_chassis.protos.domainlm.v1 import trainer_pb2 as pb
from domainlm_chassis.protos.domainlm.v1 import trainer_pb2_grpc
from domainlm_trainer.kube import models_listed
from domainlm_trainer.local import LocalBackend
from domainlm_trainer.publish import LocalRegistryPublisher
from domainlm_trainer.servicer import TrainerServicer
from domainlm_trainer.settings import TrainerSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QA = [
    ("보험금은 언제까지 지급하나요?", "청구서류를 접수한 날부터 3영업일 이내에 지급합니다."),
    ("청약은 언제까지 철회할 수 있나요?", "보험증권을 받은 날부터 15일 이내에 철회할 수 있습니다."),
    ("해지된 계약은 부활할 수 있나요?", "해지된 날부터 3년 이내에 부활을 청약할 수 있습니다."),
    ("보험수익자는 누구인가요?", "보험금 지급사유가 생겼을 때 보험금을 받는 사람입니다."),
]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("snapshot")
    # head size 64, so that vLLM on CPU serves it
    base = build_tiny_model(
        d / "base", [f"{q} {a}" for q, a in QA], vocab_size=600, hidden_size=128, layers=1
    )
    sft = _write(
        d / "sft.jsonl",
        [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in QA],
    )
    dpo = _write(
        d / "dpo.jsonl",
        [
            {
                "prompt": [{"role": "user", "content": q}],
                "chosen": [{"role": "assistant", "content": a}],
                "rejected": [{"role": "assistant", "content": QA[(i + 1) % len(QA)][1]}],
            }
            for i, (q, a) in enumerate(QA)
        ],
    )
    return {"base": base, "sft": sft, "dpo": dpo}


def test_real_training_run_and_publish(snapshot: dict[str, Path], tmp_path: Path) -> None:
    settings = TrainerSettings(runs_dir=tmp_path / "runs", registry_dir=tmp_path / "reg", poll_seconds=0.5)
    cli = str(Path(sys.executable).with_name("domainlm"))
    port = free_port()
    # embedded mode: publishing restarts the local vLLM server (CPU) on the new version
    publisher = LocalRegistryPublisher(settings.registry_dir, vllm_port=port, enforce_eager=True)
    servicer = TrainerServicer(settings, {"local": LocalBackend(settings.runs_dir, cli)}, publisher)
    with serving(servicer) as channel, contextlib.ExitStack() as stack:
        stack.callback(stop_recorded, tmp_path / "reg" / "domainlm-tiny" / "vllm.json")
        stub = trainer_pb2_grpc.TrainerServiceStub(channel)
        request = pb.StartRunRequest(
            sft_data_uri=f"file://{snapshot['sft']}", dpo_data_uri=str(snapshot["dpo"]), run_id="cpu-run",
            config=pb.TrainingConfig(base_model=str(snapshot["base"]), max_steps=2, sft_lr=1e-3),
        )  # fmt: skip
        stub.StartRun(request, timeout=30)
        events = list(stub.WatchRun(pb.WatchRunRequest(id="cpu-run"), timeout=600))
        last = events[-1].run
        logs = [line for e in events for line in e.log_lines]
        assert last.state == "succeeded", "\n".join(logs[-40:])
        assert [e.run.stage for e in events if e.run.state == "running"][-1] == "dpo"
        assert any(line.startswith("sft: 4 rows, 2 steps") for line in logs), logs
        assert any(line.startswith("dpo: 4 rows, 2 steps") for line in logs), logs
        model = Path(last.model_dir)
        assert model == tmp_path / "runs" / "cpu-run" / "model"
        check_servable(model, IM_END)

        request = pb.PublishRequest(run_id="cpu-run", name="domainlm-tiny", wait_seconds=600)
        pub = stub.Publish(request, timeout=660).publication
        assert pub.ready and pub.version == "v0001", pub.message
        # the real vLLM server serves the published version under the public name
        assert models_listed(f"http://127.0.0.1:{port}/v1", "domainlm-tiny") is True
        published = Path(pub.model_dir)
        assert published == tmp_path / "reg" / "domainlm-tiny" / "v0001"
        check_servable(published, IM_END)
        assert not (published / "checkpoints").exists()
        assert json.loads((published / "publish.json").read_text())["source"] == str(model.resolve())


def test_the_service_process_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port, metrics = free_port(), free_port()
    env = {
        **os.environ,
        "DOMAINLM_TRAINER_GRPC_PORT": str(port),
        "DOMAINLM_TRAINER_METRICS_PORT": str(metrics),
        "DOMAINLM_TRAINER_RUNS_DIR": str(tmp_path),
    }
    proc = subprocess.Popen([str(Path(sys.executable).with_name("domainlm-trainer"))], env=env)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            assert health(channel, "domainlm.v1.TrainerService") == "SERVING"
            runs = trainer_pb2_grpc.TrainerServiceStub(channel).ListRuns(pb.ListRunsRequest(), timeout=10)
            assert list(runs.runs) == []
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as r:
            assert "domainlm_trainer_runs_started_total" in r.read().decode()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
