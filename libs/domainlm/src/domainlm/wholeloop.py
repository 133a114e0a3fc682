"""`domainlm run`'s ending: the training loop after the datasets, the summary and report, the served
model's answers on the terminal, and (with --serve) the endpoint kept up until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from domainlm.jsonl import read_models
from domainlm.records import Page, Sample
from domainlm.runner import RunResult
from domainlm.runreport import write_all
from domainlm.trainloop import LoopSettings, TrainLoop


def _echo(message: str) -> None:
    typer.echo(message, err=True)


def _kept(out: Path) -> list[Sample]:
    return [s for name in ("unique.jsonl", "evolved.jsonl") if (out / name).exists()
            for s in read_models(out / name, Sample)]  # fmt: skip


def finish_run(result: RunResult, until: str, settings: LoopSettings, keep_serving: bool) -> dict[str, Any]:
    out = result.output
    training: dict[str, Any] | None = None
    server = None
    if until != "export":
        pages = out / "pages.jsonl"
        loop = TrainLoop(out, settings, lambda: (p.text for p in read_models(pages, Page)), _echo)
        training = loop.run(keep_serving=keep_serving and settings.serve)
        server = training.pop("_server", None)
    summary = write_all(out, result, training, _kept(out))
    _print(summary)
    _echo(f"done in {sum(summary['seconds'].values()):.0f}s; report: {out / 'report.html'}")
    if server is not None:
        _serve_until_interrupted(server, summary)
    typer.echo(f"summary: {out / 'summary.json'}")
    return summary


def _print(summary: dict[str, Any]) -> None:
    ev = summary.get("eval", {})
    for model, m in ev.get("held_out", {}).items():
        _echo(f"  held-out {model:5} perplexity {m.get('perplexity', float('nan')):9.2f}  "
              f"char-F1 {m.get('char_f1', 0):.3f}  ROUGE-L {m.get('rouge_l', 0):.3f}")  # fmt: skip
    if "skipped" in ev:
        _echo(f"  evaluation: {ev['skipped']}")
    pub = summary["published"]
    if pub.get("published"):
        _echo(f"published {pub['name']} {pub['version']}: {pub['path']}")
    elif summary.get("training"):
        _echo(f"not published: {pub.get('reason')}")
    for a in summary.get("served", {}).get("answers", []):
        _echo(f"\n  Q: {a['question']}\n  expected: {a['expected']}\n  served model: {a['answer']}")


def _serve_until_interrupted(server: Any, summary: dict[str, Any]) -> None:
    name = summary["published"]["name"]
    _echo(f"\nserving {name} at {server.base_url} until Ctrl-C; try:\n"
          f"  curl {server.base_url}/chat/completions -H 'Content-Type: application/json' "
          f"-d '{{\"model\": \"{name}\", \"messages\": [{{\"role\": \"user\", \"content\": \"보험금은 언제 지급하나요?\"}}]}}'")  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if server.exit_code() is not None:
                _echo(f"the server exited ({server.exit_code()}); see its log")
                break
    finally:
        server.stop()
    sys.stderr.flush()
