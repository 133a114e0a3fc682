"""Publishing behind an evaluation gate: immutable versioned model directories and a `current` pointer.

Layout of a registry directory:

    REG/NAME/v0001/            a published model: weights, tokenizer, eval.json, publish.json (read-only)
    REG/NAME/v0002/
    REG/NAME/current.json      {"version": "v0002", "path": ..., ...}, replaced atomically
    REG/NAME/history.jsonl     every move of the pointer (publish, rollback), appended
    REG/NAME/.lock             serialises publishers

A new model is published only when it beats its base (and the currently published model, if any) on
the held-out score; a version directory is never written again once it has its name (it is filled under
a staging name, checked servable, then renamed). Rollback moves the pointer back; nothing is deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domainlm.childproc import stop_pid_group
from domainlm.files import write_json_atomic
from domainlm.training.evaluate import (
    DEFAULT_METRIC,
    EVAL_FILE,
    EvalReport,
    evaluate_model,
    file_sha256,
    load_eval,
)
from domainlm.training.servable import check_servable
from domainlm.training.settings import CHECKPOINTS, SUMMARY

CURRENT = "current.json"
HISTORY = "history.jsonl"
MANIFEST = "publish.json"
VERSION = re.compile(r"^v(\d{4,})$")
# Never copied into a published version: training state, partial files, the model's own eval results
# (the gate's report on the gate's questions is written instead).
_NOT_PUBLISHED = (CHECKPOINTS, EVAL_FILE, "*.partial", ".*", "runs")


class RegistryError(RuntimeError):
    pass


class PublishRefused(RuntimeError):
    """The gate said no: the new model does not beat every model it must beat."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Registry:
    """Versions of one public model name under a registry root."""

    def __init__(self, root: Path, name: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise RegistryError(f"model name {name!r}: letters, digits, '.', '_' and '-' only")
        self.root, self.name = root, name
        self.dir = root / name

    # -- reading

    def versions(self) -> list[str]:
        """Published versions, oldest first."""
        if not self.dir.is_dir():
            return []
        found = [p.name for p in self.dir.iterdir() if p.is_dir() and VERSION.match(p.name)]
        return sorted(found, key=lambda v: int(v[1:]))

    def path(self, version: str) -> Path:
        if version not in self.versions():
            raise RegistryError(f"{self.name}: no version {version!r} (have {self.versions() or 'none'})")
        return self.dir / version

    def current(self) -> dict[str, Any] | None:
        f = self.dir / CURRENT
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else None

    def current_version(self) -> str | None:
        cur = self.current()
        return str(cur["version"]) if cur else None

    def current_path(self) -> Path | None:
        version = self.current_version()
        return self.dir / version if version else None

    def history(self) -> list[dict[str, Any]]:
        f = self.dir / HISTORY
        if not f.exists():
            return []
        return [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]

    def withdrawn(self) -> set[str]:
        cur = self.current()
        return set(cur.get("withdrawn", [])) if cur else set()

    # -- writing (under the lock)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / ".lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _next_version(self) -> str:
        versions = self.versions()
        return f"v{(int(versions[-1][1:]) + 1 if versions else 1):04d}"

    def add_version(self, model_dir: Path, extra_files: dict[str, dict[str, Any]]) -> str:
        """Copies the model into the next version directory (never an existing one), with `extra_files`
        (name -> JSON) beside it; checked servable before it takes its name; files made read-only.
        Call under `lock()`."""
        staging = self.dir / f".staging-{uuid.uuid4().hex}"
        try:
            shutil.copytree(model_dir, staging, ignore=shutil.ignore_patterns(*_NOT_PUBLISHED))
            for fname, data in extra_files.items():
                (staging / fname).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            check_servable(staging)
            version = self._next_version()
            target = self.dir / version
            if target.exists():  # rename(2) would replace an empty directory: never let it
                raise RegistryError(f"{target} exists; versions are never overwritten")
            for p in staging.rglob("*"):
                if p.is_file():
                    p.chmod(0o444)
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return version

    def set_current(self, version: str, action: str, **info: Any) -> dict[str, Any]:
        """Moves the pointer (atomically) and appends the move to the history. Call under `lock()`."""
        path = self.path(version)
        previous = self.current()
        withdrawn = set(previous.get("withdrawn", [])) if previous else set()
        if action == "rollback" and previous:
            withdrawn.add(previous["version"])
        withdrawn.discard(version)
        pointer = {
            "name": self.name,
            "version": version,
            "path": str(path.resolve()),
            "updated_at": _now(),
            "action": action,
            "previous": previous["version"] if previous else None,
            "withdrawn": sorted(withdrawn, key=lambda v: int(v[1:])),
        }
        write_json_atomic(self.dir / CURRENT, pointer)
        event = {"at": pointer["updated_at"], "action": action, "from": pointer["previous"], "to": version}
        with (self.dir / HISTORY).open("a", encoding="utf-8") as f:
            f.write(json.dumps({**event, **info}, ensure_ascii=False) + "\n")
        return pointer

    def rollback(self, to: str | None = None) -> dict[str, Any]:
        """Back to `to`, else to the newest version older than the current one that was not itself
        rolled back from."""
        with self.lock():
            current = self.current_version()
            if current is None:
                raise RegistryError(f"{self.name}: nothing is published, nothing to roll back")
            if to is None:
                older = [
                    v for v in self.versions() if int(v[1:]) < int(current[1:]) and v not in self.withdrawn()
                ]
                if not older:
                    raise RegistryError(
                        f"{self.name}: {current} is the first version; nothing to roll back to"
                    )
                to = older[-1]
            if to == current:
                raise RegistryError(f"{self.name}: {to} is already current")
            return self.set_current(to, "rollback")


# ---------------------------------------------------------------- the gate


@dataclass
class Comparison:
    label: str
    model: str
    score: float


@dataclass
class GateResult:
    metric: str
    min_gain: float
    new_score: float
    against: list[Comparison] = field(default_factory=list)

    @property
    def beaten(self) -> list[Comparison]:
        return [c for c in self.against if self.new_score > c.score + self.min_gain]

    @property
    def not_beaten(self) -> list[Comparison]:
        return [c for c in self.against if not self.new_score > c.score + self.min_gain]

    @property
    def passed(self) -> bool:
        return bool(self.against) and not self.not_beaten

    def lines(self) -> list[str]:
        out = [f"new model  {self.metric} = {self.new_score:.4f}"]
        for c in self.against:
            verdict = "beaten" if c in self.beaten else "NOT beaten"
            out.append(f"{c.label:<10} {self.metric} = {c.score:.4f}  {verdict}  ({c.model})")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "min_gain": self.min_gain,
            "new_score": self.new_score,
            "passed": self.passed,
            "against": [c.__dict__ for c in self.against],
        }


def gate(
    new: EvalReport,
    against: Sequence[tuple[str, EvalReport]],
    metric: str = DEFAULT_METRIC,
    min_gain: float = 0.0,
) -> GateResult:
    """The new model must score above every other model by more than `min_gain` (higher is better)."""
    return GateResult(
        metric, min_gain, new.score(metric), [Comparison(lbl, r.model, r.score(metric)) for lbl, r in against]
    )


def base_of(model_dir: Path) -> Path | None:
    """The model a training run started from, as its train_summary.json records it (when it exists)."""
    f = model_dir / SUMMARY
    if not f.exists():
        return None
    start = json.loads(f.read_text()).get("settings", {}).get("model")
    return Path(start) if start and Path(start).exists() else None


def _published_report(path: Path, eval_file: Path, generate: bool) -> EvalReport | None:
    """A published version's own eval.json, when it was made on the same questions (versions are
    immutable, so it still holds)."""
    f = path / EVAL_FILE
    if not f.exists():
        return None
    report = EvalReport.from_dict(json.loads(f.read_text(encoding="utf-8")))
    same = report.eval_sha256 == file_sha256(eval_file) and report.generate == generate
    return report if same else None


@dataclass
class PublishResult:
    """A publication that happened (a refusal raises PublishRefused instead)."""

    version: str
    path: Path
    gate: GateResult
    forced: bool
    published: bool = True


def publish(
    model: Path,
    registry: Path,
    name: str,
    eval_file: Path,
    baselines: Sequence[Path] = (),
    metric: str = DEFAULT_METRIC,
    min_gain: float = 0.0,
    force: bool = False,
    generate: bool = False,
    max_new_tokens: int = 128,
    log: Any = print,
) -> PublishResult:
    """Evaluates `model`, its base(s) and the published model on `eval_file`; publishes a new version
    and moves `current` to it when the model beats them all (or when forced). Raises PublishRefused."""
    check_servable(model)
    reg = Registry(registry, name)
    items = load_eval(eval_file)
    bases = list(baselines) or ([b] if (b := base_of(model)) else [])
    if not bases and not force:
        raise PublishRefused(
            f"{model}: no base to compare with (no --baseline, and {SUMMARY} names none that exists); "
            "give --baseline DIR, or --force"
        )

    def run(m: Path | str) -> EvalReport:
        log(f"evaluating {m} on {len(items)} held-out questions")
        return evaluate_model(m, eval_file, generate, max_new_tokens, items=items)

    new = run(model)
    against = [(f"base{i + 1}" if len(bases) > 1 else "base", run(b)) for i, b in enumerate(bases)]
    current = reg.current_version()
    if current:
        path = reg.dir / current
        against.append((current, _published_report(path, eval_file, generate) or run(path)))
    result = gate(new, against, metric, min_gain)
    if not result.passed and not force:
        reasons = "; ".join(f"{c.label} {c.score:.4f}" for c in result.not_beaten) or "nothing to compare"
        raise PublishRefused(
            f"refused: {model} scores {result.new_score:.4f} on {metric}, not above {reasons}"
            + (f" by more than {min_gain}" if min_gain else "")
            + " (--force publishes anyway)\n"
            + "\n".join(result.lines())
        )
    manifest = {
        "name": name,
        "source": str(model.resolve()),
        "published_at": _now(),
        "eval_file": str(eval_file),
        "forced": force and not result.passed,
        "gate": result.to_dict(),
    }
    with reg.lock():
        version = reg.add_version(model, {EVAL_FILE: new.to_dict(), MANIFEST: manifest})
        reg.set_current(version, "publish", forced=manifest["forced"], source=manifest["source"])
    return PublishResult(version, reg.dir / version, result, bool(manifest["forced"]))


# ---------------------------------------------------------------- serving the current version (embedded)


def stop_recorded(pidfile: Path, timeout: float = 30.0) -> None:
    """Stops the server a pidfile records (its whole process group), if it still runs."""
    if not pidfile.exists():
        return
    stop_pid_group(int(json.loads(pidfile.read_text())["pid"]), timeout)
    pidfile.unlink(missing_ok=True)


def served_names(base_url: str, timeout: float = 5.0) -> list[str]:
    """The model names an OpenAI-compatible server at `base_url` (ending in /v1) lists."""
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/models", timeout=timeout) as r:
        return [m["id"] for m in json.loads(r.read())["data"]]


def serve_current(
    registry: Path,
    name: str,
    port: int,
    pidfile: Path | None = None,
    log_path: Path | None = None,
    enforce_eager: bool = False,
    startup_timeout: float = 300.0,
):  # -> VllmServer
    """(Re)starts the local vLLM server on the current version of `name`, served as `name`.

    Stops the server `pidfile` records first (a previous call's), then returns only when `/v1/models`
    answers with `name`; records the new server in `pidfile`. With a pidfile the server runs in its own
    session and outlives a CLI that started it (stop it with `.stop()` or `stop_recorded(pidfile)`);
    without one it dies with its caller."""
    from domainlm.childproc import accepts_connections
    from domainlm.vllm_server import VllmServer

    reg = Registry(registry, name)
    path = reg.current_path()
    if path is None:
        raise RegistryError(f"{name}: nothing is published under {registry}")
    if pidfile is not None:
        stop_recorded(pidfile)
    deadline = time.monotonic() + 30
    while accepts_connections(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    server = VllmServer(
        path, name, port=port, log_path=log_path, enforce_eager=enforce_eager, startup_timeout=startup_timeout
    )
    # Recorded in a pidfile, the server is a daemon that outlives the CLI; without one, it dies with it.
    server.detached = pidfile is not None
    server.start()
    if name not in served_names(server.base_url):
        server.stop()
        raise RuntimeError(f"vLLM on port {port} does not serve {name!r}")
    if pidfile is not None:
        write_json_atomic(
            pidfile,
            {"pid": server.pid, "port": port, "name": name, "version": path.name,
             "model": str(path), "log": str(server.log_path)},
        )  # fmt: skip
    return server
