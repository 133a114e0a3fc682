"""What SFT and DPO runs share: loading the start model, resuming, saving servable, the summary."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from domainlm.jsonl import read_rows
from domainlm.training.data import Prepared
from domainlm.training.servable import chat_end_token, check_servable, finish_servable, with_end_token
from domainlm.training.settings import SUMMARY, TrainSettings


@dataclass
class TrainResult:
    output: Path
    method: str
    global_step: int
    resumed_from: str | None
    precision: str
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    rows: int = 0

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d["output"] = str(self.output)
        return d


def load_model_and_tokenizer(settings: TrainSettings) -> tuple[Any, Any]:
    """The start model in fp32 (bf16 runs autocast over fp32 master weights) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(settings.model)
    if tokenizer.pad_token is None:
        raise ValueError(
            f"{settings.model}: the tokenizer has no pad token; give it one distinct from eos before training"
        )
    if not tokenizer.chat_template:
        raise ValueError(f"{settings.model}: the tokenizer has no chat template")
    model = AutoModelForCausalLM.from_pretrained(
        settings.model, dtype=torch.float32, attn_implementation="sdpa"
    )
    end_id = tokenizer.convert_tokens_to_ids(chat_end_token(tokenizer, settings.chat_end_token))
    assert isinstance(end_id, int)
    model.generation_config.eos_token_id = with_end_token(model.generation_config.eos_token_id, end_id)
    return model, tokenizer


def build_trainer(
    settings: TrainSettings,
    method: str,
    prepare: Callable[[Iterable[dict[str, Any]]], Prepared],
    trainer_class: Any,
    config: Callable[[Any], Any],
    callbacks: list[Any] | None = None,
) -> tuple[Any, Any, Prepared]:
    """(trainer, tokenizer, prepared data) for `method` ("sft", "dpo"): `prepare` keeps the trainable
    rows of `settings.data`; `config(tokenizer)` is the TRL config; `trainer_class` the TRL trainer."""
    prepared = prepare(read_rows(settings.data))
    if prepared.rejected:
        print(f"{method} rows not trainable: {dict(prepared.rejected)}", flush=True)
    model, tokenizer = load_model_and_tokenizer(settings)
    trainer = trainer_class(
        model=model,
        args=config(tokenizer),
        train_dataset=prepared.dataset(),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    return trainer, tokenizer, prepared


def train_and_save(
    trainer: Any, tokenizer: Any, settings: TrainSettings, method: str, prepared: Any
) -> TrainResult:
    """Trains (resuming where checkpoints say), saves a servable model in `settings.output`, checks it."""
    started = time.monotonic()
    resume = settings.resume_from()
    if resume:
        print(f"resuming from {resume}", flush=True)
    out = trainer.train(resume_from_checkpoint=resume)
    # The trainer gathers ZeRO-3 shards into one 16-bit state dict here (stage3_gather_16bit_weights_on_model_save).
    trainer.save_model(str(settings.output))
    result = TrainResult(
        output=settings.output,
        method=method,
        global_step=int(trainer.state.global_step),
        resumed_from=resume,
        precision=settings.resolved_precision(),
        seconds=round(time.monotonic() - started, 2),
        metrics={k: v for k, v in out.metrics.items() if isinstance(v, int | float)},
        rejected=dict(prepared.rejected),
        rows=len(prepared.rows),
    )
    if trainer.is_world_process_zero():
        end = chat_end_token(tokenizer, settings.chat_end_token)
        finish_servable(tokenizer, settings.output, end)
        # The loss history goes with the model, so a report can draw its curve without the checkpoints.
        summary = {
            **result.summary(),
            "settings": json.loads(settings.model_dump_json()),
            "log_history": [h for h in trainer.state.log_history if isinstance(h, dict)],
        }
        (settings.output / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        check_servable(settings.output, end)
    return result
