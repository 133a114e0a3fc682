"""`domainlm stack up | status | down`: the docker-compose topology as local processes.

The same parts docker-compose.yml describes (Kafka in KRaft mode, Redis, Postgres, the vLLM teacher,
every stage service with its gRPC health and metrics ports), started on this machine for development
and tests, without a container engine. Each runs in a session of its own, so they outlive the command
that started them; `state.json` in the stack directory records them, and `down` stops them in reverse
order (services first, so they commit their last batch while the broker is still there).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from domainlm.childproc import ChildServer, free_port, pid_alive, stop_pid_group
from domainlm.paths import sample_policy
from domainlm_chassis.broker import KafkaBroker
from domainlm_chassis.grpc.probe import check
from domainlm_chassis.kafkaconn import ensure_topics
from domainlm_chassis.stores import PostgresServer, RedisServer

# service -> (console script, env prefix); the order is the stream's.
SERVICES = {
    "ocr": ("domainlm-ocr", "DOMAINLM_OCR_"),
    "generator": ("domainlm-generator", "DOMAINLM_GENERATOR_"),
    "review": ("domainlm-review", "DOMAINLM_REVIEW_"),
    "dedup": ("domainlm-dedup", "DOMAINLM_DEDUP_"),
    "evolver": ("domainlm-evolver", "DOMAINLM_EVOLVER_"),
}
STREAM = ["documents", "chunks", "samples.generated", "samples.verified", "samples.unique", "samples.evolved"]
TOPICS = [*STREAM, *(f"{t}.dlq" for t in STREAM), "rejections"]
TEACHER_NAME = "domainlm-teacher"


class StackError(RuntimeError):
    pass


def up(
    root: Path,
    teacher_url: str | None = None,
    teacher_model: str = TEACHER_NAME,
    replicas: dict[str, int] | None = None,
    partitions: int = 4,
    env: dict[str, str] | None = None,
    say: Any = print,
) -> dict[str, Any]:
    """Starts everything and waits until every service reports SERVING; returns the state."""
    root = root.resolve()
    if (state := read_state(root)) and any(pid_alive(p["pid"]) for p in state["processes"].values()):
        raise StackError(f"a stack is already running in {root}: `domainlm stack down --dir {root}` first")
    (root / "logs").mkdir(parents=True, exist_ok=True)
    started: dict[str, dict[str, Any]] = {}
    state = {"dir": str(root), "processes": started}
    try:
        broker = _start(KafkaBroker(root / "kafka", partitions=partitions), "kafka", started, say)
        redis = _start(RedisServer(root / "redis"), "redis", started, say)
        postgres = _start(PostgresServer(root / "postgres"), "postgres", started, say)
        if teacher_url is None:
            teacher_url = _start_local_teacher(root, started, say)
            teacher_model = TEACHER_NAME
            # The tiny local teacher has random weights: its judging would send every item to a human.
            env = {"DOMAINLM_GENERATOR_JUDGE__ENABLED": "false", **(env or {})}
        state |= {"bootstrap": broker.bootstrap, "redis_url": redis.url, "database_url": postgres.url,
                  "teacher_url": teacher_url, "teacher_model": teacher_model}  # fmt: skip
        create_topics(broker.bootstrap, partitions)
        wiring = {
            "BOOTSTRAP": broker.bootstrap, "TEACHER__BASE_URL": teacher_url, "TEACHER__MODEL": teacher_model,
            "DATABASE_URL": postgres.url, "REDIS_URL": redis.url,
        }  # fmt: skip
        # One admin token for the review page, kept in the stack's state (its directory is the user's).
        state["review_token"] = secrets.token_urlsafe(18)
        tokens = json.dumps({state["review_token"]: {"user": "admin", "role": "admin"}})
        env = {"DOMAINLM_REVIEW_HTTP__TOKENS": tokens, **(env or {})}
        for name, (script, prefix) in SERVICES.items():
            for i in range((replicas or {}).get(name, 1)):
                _start_service(root, f"{name}-{i + 1}", script, prefix, wiring, env or {}, started)
        _write_state(root, state)
        _wait_serving(started, timeout=120)
        say(
            f"stack up in {root}: Kafka at {broker.bootstrap}; `domainlm submit PDF --bootstrap {broker.bootstrap}`"
        )
        say(
            f"review page at http://127.0.0.1:{started['review-1']['http_port']}/ (token: {state['review_token']})"
        )
    except BaseException:
        _write_state(root, state)
        down(root, say=lambda *_: None)
        raise
    return state


def down(root: Path, timeout: float = 60.0, say: Any = print) -> list[str]:
    """Stops what `up` started, services first; returns the names stopped."""
    state = read_state(root)
    if state is None:
        say(f"no stack in {root}")
        return []
    stopped = []
    for name, proc in reversed(list(state["processes"].items())):
        if pid_alive(proc["pid"]):
            stop_pid_group(proc["pid"], timeout)
            stopped.append(name)
    say(f"stopped {', '.join(stopped) or 'nothing (all were down)'}")
    return stopped


def status(root: Path) -> dict[str, str]:
    """Per process: `serving`, `running` (no gRPC), `not-serving` or `down`."""
    state = read_state(root)
    if state is None:
        return {}
    out = {}
    for name, proc in state["processes"].items():
        if not pid_alive(proc["pid"]):
            out[name] = "down"
        elif port := proc.get("grpc_port"):
            out[name] = "serving" if _serving(port) else "not-serving"
        else:
            out[name] = "running"
    return out


def read_state(root: Path) -> dict[str, Any] | None:
    path = root / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def create_topics(bootstrap: str, partitions: int) -> None:
    """Every topic of the stream and its DLQ (as the compose file's kafka-init does)."""
    ensure_topics(bootstrap, TOPICS, partitions)


def _start(server: ChildServer, name: str, started: dict[str, dict[str, Any]], say: Any) -> Any:
    say(f"starting {name}")
    server.detached = True  # the stack outlives `stack up`; `stack down` stops what the state records
    server.start()
    started[name] = {"pid": server.pid, "log": str(server.log_path)}
    return server


def _start_local_teacher(root: Path, started: dict[str, dict[str, Any]], say: Any) -> str:
    """A tiny model, built from the project's sample policy, on the real vLLM server (CPU)."""
    from domainlm.extract import PdfExtractor
    from domainlm.funnel import Funnel
    from domainlm.tinymodel import build_tiny_model
    from domainlm.vllm_server import VllmServer

    model = root / "teacher-model"
    if not (model / "config.json").exists():
        say("building a tiny teacher model (no --teacher-url given)")
        build_tiny_model(model, [p.text for p in PdfExtractor().run([str(sample_policy())], Funnel())])
    server = VllmServer(model, TEACHER_NAME, log_path=root / "logs" / "teacher.log", enforce_eager=True)
    _start(server, "teacher", started, say)
    return server.base_url


def _start_service(
    root: Path, name: str, script: str, prefix: str, wiring: dict[str, str], extra: dict[str, str],
    started: dict[str, dict[str, Any]],
) -> None:  # fmt: skip
    grpc_port, metrics_port = free_port(), free_port()
    env = {**os.environ, **{prefix + k: v for k, v in wiring.items()}, **extra}
    env |= {f"{prefix}GRPC_PORT": str(grpc_port), f"{prefix}METRICS_PORT": str(metrics_port)}
    ports = {"grpc_port": grpc_port, "metrics_port": metrics_port}
    if script == "domainlm-review":  # the review page, on a port of its own per replica
        ports["http_port"] = free_port()
        env[f"{prefix}HTTP__PORT"] = str(ports["http_port"])
    log = root / "logs" / f"{name}.log"
    binary = Path(sys.executable).parent / script
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    started[name] = {"pid": proc.pid, "log": str(log), **ports}


def _wait_serving(started: dict[str, dict[str, Any]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = {n: p for n, p in started.items() if "grpc_port" in p}
    while waiting and time.monotonic() < deadline:
        for name, proc in list(waiting.items()):
            if not pid_alive(proc["pid"]):
                tail = Path(proc["log"]).read_text(errors="replace")[-2000:]
                raise StackError(f"{name} exited while starting; its log ends:\n{tail}")
            if _serving(proc["grpc_port"]):
                del waiting[name]
        time.sleep(0.5)
    if waiting:
        raise StackError(
            f"not serving after {timeout:.0f}s: {', '.join(waiting)} (logs in the stack's logs/)"
        )


def _serving(port: int) -> bool:
    return check(f"127.0.0.1:{port}", timeout=2) == "SERVING"


def _write_state(root: Path, state: dict[str, Any]) -> None:
    tmp = root / "state.json.partial"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(root / "state.json")
