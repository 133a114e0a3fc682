"""The run's second half: the factory's exports → held-out split → base model → SFT → DPO → evaluation
→ the gate → a published version → served by vLLM and asked held-out questions.

Each step writes its result under `OUTPUT/train/` and is skipped when a re-run finds it done, so the
run stays resumable stage by stage. Everything it decides (too few rows, a refused gate) is recorded
with its reason in the returned summary rather than raised: the report says what happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from domainlm.files import write_json_atomic
from domainlm.jsonl import read_rows, write_rows

Log = Callable[[str], None]
EVAL_KEYS = ("perplexity", "char_f1", "rouge_l", "logprob_per_char")


class LoopSettings(BaseModel):
    """The CPU demo defaults learn on a tiny random model (a high, constant learning rate); with a real
    base model (`base_model`/`base_candidates`) the field's defaults apply instead (see `real_*`)."""

    base_model: Path | None = Field(None, description="start from this model directory")
    base_candidates: list[str] = Field(
        default_factory=list, description="choose among these by held-out score"
    )
    held_out_share: float = Field(0.15, ge=0.0, lt=1.0)
    min_held_out: int = Field(3, description="fewer held-out questions than this cannot gate a publication")
    eval_set: Path | None = Field(
        None, description="external questions (JSON list or JSONL of question/answer)"
    )
    name: str = Field("domainlm", description="the public model name in the registry and the server")
    serve_questions: int = Field(3, description="held-out questions asked of the served model")
    tiny_epochs: float = 30.0
    tiny_lr: float = 1e-3
    tiny_dpo_lr: float = 1e-4
    tiny_dpo_epochs: float = 3.0
    real_epochs: float = 3.0
    real_lr: float = 2e-5
    real_dpo_lr: float = 5e-7
    batch_size: int = 16
    max_length: int = 512
    max_new_tokens: int = 96
    serve: bool = Field(True, description="start vLLM on the published model and ask it questions")


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _save(path: Path, data: Any) -> Any:
    write_json_atomic(path, data)
    return data


def external_questions(path: Path) -> list[dict[str, Any]]:
    """An external eval set as SFT rows: a JSON list or JSONL of {question, answer} (or SFT rows)."""
    text = path.read_text(encoding="utf-8").strip()
    rows = (
        json.loads(text)
        if text.startswith("[")
        else [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    )
    out = []
    for i, r in enumerate(rows):
        if "messages" in r:
            out.append(r)
        elif r.get("question") and r.get("answer"):
            messages = [
                {"role": "user", "content": r["question"]},
                {"role": "assistant", "content": r["answer"]},
            ]
            out.append({"id": r.get("id", f"q{i}"), "messages": messages})
        else:
            raise ValueError(f"{path}: row {i + 1} has neither messages nor question/answer")
    return out


class TrainLoop:
    def __init__(
        self, out: Path, settings: LoopSettings, corpus: Callable[[], Iterable[str]], log: Log
    ) -> None:
        self.out, self.s, self.corpus, self.log = out, settings, corpus, log
        self.dir = out / "train"
        self.seconds: dict[str, float] = {}

    def _timed(self, step: str, fn: Callable[[], Any]) -> Any:
        started = time.monotonic()
        try:
            return fn()
        finally:
            self.seconds[step] = round(self.seconds.get(step, 0.0) + time.monotonic() - started, 1)

    # -- steps -------------------------------------------------------------------------------------

    def split(self) -> dict[str, Any]:
        from domainlm.training.evaluate import split_held_out

        sft = list(read_rows(self.out / "export" / "sft.jsonl"))
        dpo = list(read_rows(self.out / "export" / "dpo.jsonl"))
        train, held = split_held_out(sft, self.s.held_out_share, "section")
        held_groups = {
            json.dumps(r.get("provenance", {}).get("section")) + str(r.get("provenance", {}).get("doc_id"))
            for r in held
        }
        dpo_train = [
            r for r in dpo
            if json.dumps(r.get("provenance", {}).get("section")) + str(r.get("provenance", {}).get("doc_id")) not in held_groups
        ]  # fmt: skip
        write_rows(self.dir / "sft-train.jsonl", train)
        write_rows(self.dir / "held-out.jsonl", held)
        write_rows(self.dir / "dpo-train.jsonl", dpo_train)
        return {"sft_train": len(train), "held_out": len(held), "dpo_train": len(dpo_train)}

    def base(self) -> tuple[Path, str]:
        """(base model, how it was chosen)."""
        if self.s.base_model is not None:
            return self.s.base_model, "given"
        if self.s.base_candidates:
            from domainlm.training.select import save_selection, select_base

            selection = select_base(self.s.base_candidates, self.dir / "held-out.jsonl")
            save_selection(selection, self.dir / "select-base.json")
            if selection.best is None:
                raise RuntimeError(f"no base candidate could be scored: see {self.dir / 'select-base.json'}")
            return Path(selection.best.name), "selected"
        tiny = self.out / "base-model"
        if not (tiny / "config.json").exists():
            from domainlm.tinymodel import build_tiny_model

            rows = [*read_rows(self.out / "export" / "sft.jsonl")]
            texts = [*self.corpus(), *(m["content"] for r in rows for m in r["messages"])]
            build_tiny_model(tiny, texts)
        return tiny, "tiny"

    def _tiny(self, how: str) -> bool:
        return how == "tiny"

    def sft(self, base: Path, how: str) -> dict[str, Any]:
        from domainlm.training import SftSettings
        from domainlm.training.sft import train_sft

        out = self.dir / "sft"
        if (out / "train_summary.json").exists():
            return _json(out / "train_summary.json")
        tiny = self._tiny(how)
        settings = SftSettings(
            model=base, data=self.dir / "sft-train.jsonl", output=out,
            epochs=self.s.tiny_epochs if tiny else self.s.real_epochs,
            lr=self.s.tiny_lr if tiny else self.s.real_lr,
            lr_scheduler="constant" if tiny else "cosine", warmup_ratio=0.0 if tiny else 0.03,
            batch_size=self.s.batch_size, max_length=self.s.max_length, save_steps=50, logging_steps=2,
        )  # fmt: skip
        train_sft(settings)
        return _json(out / "train_summary.json")

    def dpo(self, sft: Path, how: str) -> dict[str, Any] | None:
        from domainlm.training import DpoSettings
        from domainlm.training.dpo import train_dpo

        out = self.dir / "dpo"
        if (out / "train_summary.json").exists():
            return _json(out / "train_summary.json")
        if not any(True for _ in read_rows(self.dir / "dpo-train.jsonl")):
            return None
        tiny = self._tiny(how)
        settings = DpoSettings(
            model=sft, data=self.dir / "dpo-train.jsonl", output=out,
            epochs=self.s.tiny_dpo_epochs if tiny else 1.0, lr=self.s.tiny_dpo_lr if tiny else self.s.real_dpo_lr,
            lr_scheduler="constant" if tiny else "cosine", warmup_ratio=0.0 if tiny else 0.03,
            batch_size=self.s.batch_size, max_length=self.s.max_length, save_steps=50, logging_steps=1,
        )  # fmt: skip
        train_dpo(settings)
        return _json(out / "train_summary.json")

    def evaluate(self, models: dict[str, Path], eval_file: Path, label: str) -> dict[str, Any]:
        from domainlm.training.evaluate import EvalReport, evaluate_model, file_sha256

        table: dict[str, Any] = {}
        sha = file_sha256(eval_file)
        for name, model in models.items():
            cached = self.dir / f"eval-{label}-{name}.json"
            report = None
            if cached.exists():
                report = EvalReport.from_dict(_json(cached))
                if report.eval_sha256 != sha or report.model != str(model):
                    report = None
            if report is None:
                self.log(f"evaluate: {name} on {label} ({eval_file.name})")
                report = evaluate_model(model, eval_file, generate=True, max_new_tokens=self.s.max_new_tokens)
                report.save(cached)
            table[name] = {k: round(report.metrics[k], 4) for k in EVAL_KEYS if k in report.metrics}
            table[name]["questions"] = report.questions
        return table

    def publish(self, final: Path, base: Path) -> dict[str, Any]:
        from domainlm.training.publish import PublishRefused, Registry, publish

        registry = self.out / "registry"
        reg = Registry(registry, self.s.name)
        done = self.dir / "published.json"
        if done.exists() and (prior := _json(done)).get("source") == str(final.resolve()):
            return prior  # this model was published (or refused) by an earlier run
        try:
            result = publish(final, registry, self.s.name, self.dir / "held-out.jsonl", [base], log=self.log)
        except PublishRefused as e:
            return _save(
                done, {"published": False, "reason": str(e).splitlines()[0], "source": str(final.resolve())}
            )
        info = {
            "published": True, "name": self.s.name, "version": result.version,
            "path": str(result.path.resolve()), "gate": result.gate.to_dict(), "source": str(final.resolve()),
            "current": reg.current_version(),
        }  # fmt: skip
        return _save(done, info)

    def ask_served(self, path: Path, keep: bool) -> dict[str, Any]:
        """Serves the published model with the real vLLM server and asks it held-out questions."""
        import httpx

        from domainlm.vllm_server import VllmServer

        held = [r for r in read_rows(self.dir / "held-out.jsonl")][: self.s.serve_questions]
        server = VllmServer(path, self.s.name, log_path=self.out / "serve-vllm.log", enforce_eager=True,
                            max_model_len=1024)  # fmt: skip
        server.start()
        answers = []
        try:
            with httpx.Client(base_url=server.base_url, timeout=120) as client:
                for row in held:
                    prompt = row["messages"][:-1]
                    r = client.post(
                        "/chat/completions",
                        json={
                            "model": self.s.name,
                            "messages": prompt,
                            "temperature": 0,
                            "max_tokens": self.s.max_new_tokens,
                        },
                    )
                    r.raise_for_status()
                    answers.append({"question": prompt[-1]["content"], "expected": row["messages"][-1]["content"],
                                    "answer": r.json()["choices"][0]["message"]["content"]})  # fmt: skip
        except BaseException:
            server.stop()
            raise
        result: dict[str, Any] = {"base_url": server.base_url, "model": self.s.name, "answers": answers,
                                  "server_peak_mib": tree_peak_mib(server.pid)}  # fmt: skip
        if keep:
            result["server"] = server
        else:
            server.stop()
        return result

    # -- the whole loop --------------------------------------------------------------------------------

    def run(self, keep_serving: bool = False) -> dict[str, Any]:
        self.dir.mkdir(parents=True, exist_ok=True)
        summary: dict[str, Any] = {"split": self._timed("split", self.split)}
        split = summary["split"]
        if split["sft_train"] == 0:
            summary["skipped"] = "no SFT rows to train on: the factory kept no item"
            return self._finish(summary)
        if split["held_out"] < self.s.min_held_out:
            # Nothing could pass the gate unevaluated, so nothing is trained for it either.
            reason = (f"held-out split too small to evaluate: {split['held_out']} question(s), "
                      f"{self.s.min_held_out} needed")  # fmt: skip
            summary["skipped"] = reason
            summary["eval"] = {"skipped": reason}
            summary["published"] = {"published": False, "reason": reason}
            return self._finish(summary)
        base, how = self._timed("base", self.base)
        summary["base"] = {"path": str(base), "chosen": how}
        sft = self._timed("sft", lambda: self.sft(base, how))
        summary["sft"] = _train_view(sft)
        final = self.dir / "sft"
        dpo = self._timed("dpo", lambda: self.dpo(final, how))
        if dpo is not None:
            summary["dpo"] = _train_view(dpo)
            final = self.dir / "dpo"
        else:
            summary["dpo"] = {"skipped": "no DPO rows outside the held-out sections"}
        models = {"base": base, "sft": self.dir / "sft", **({"dpo": final} if dpo is not None else {})}
        summary["eval"] = {
            "held_out": self._timed(
                "evaluate", lambda: self.evaluate(models, self.dir / "held-out.jsonl", "held-out")
            )
        }
        if self.s.eval_set is not None:
            ext = self.dir / "eval-set.jsonl"
            write_rows(ext, external_questions(self.s.eval_set))
            summary["eval"]["eval_set"] = self._timed(
                "evaluate", lambda: self.evaluate(models, ext, "eval-set")
            )
            summary["eval"]["eval_set_file"] = str(self.s.eval_set)
        published = self._timed("publish", lambda: self.publish(final, base))
        summary["published"] = published
        if published.get("published") and self.s.serve:
            served = self._timed("serve", lambda: self.ask_served(Path(published["path"]), keep_serving))
            summary["served"] = {k: v for k, v in served.items() if k != "server"}
            if "server" in served:
                summary["_server"] = served["server"]
        return self._finish(summary)

    def _finish(self, summary: dict[str, Any]) -> dict[str, Any]:
        summary["seconds"] = dict(self.seconds)
        return summary


def tree_peak_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) summed over a process and its descendants (vLLM runs its engine
    in a child process), in MiB; 0 where /proc cannot say."""
    total = 0
    pids = [pid]
    try:
        import psutil

        pids += [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def _train_view(summary: dict[str, Any]) -> dict[str, Any]:
    losses = [(h["step"], h["loss"]) for h in summary.get("log_history", []) if "loss" in h and "step" in h]
    return {
        "rows": summary.get("rows"), "steps": summary.get("global_step"), "seconds": summary.get("seconds"),
        "precision": summary.get("precision"), "first_loss": losses[0][1] if losses else None,
        "last_loss": losses[-1][1] if losses else None, "loss": losses,
    }  # fmt: skip
