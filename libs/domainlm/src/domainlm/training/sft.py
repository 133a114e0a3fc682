"""Supervised fine-tuning with TRL's SFTTrainer on the factory's SFT export.

Full fine-tuning, loss on assistant tokens only (the chat template's `{% generation %}` span, which
includes the turn's end token, so the model learns to stop), optional packing (padding-free), bf16 on
GPU and fp32 on CPU, checkpoints every `save_steps`, resume after preemption.
"""

from __future__ import annotations

from typing import Any

from domainlm.training.common import TrainResult, load_model_and_tokenizer, train_and_save
from domainlm.training.data import load_sft
from domainlm.training.servable import chat_end_token
from domainlm.training.settings import SftSettings


def sft_config(settings: SftSettings, tokenizer: Any = None):  # -> trl.SFTConfig
    from trl import SFTConfig

    extra: dict[str, Any] = {}
    if tokenizer is not None:
        extra["eos_token"] = chat_end_token(tokenizer, settings.chat_end_token)
    return SFTConfig(
        **settings.trainer_kwargs(),
        packing=settings.packing,
        assistant_only_loss=settings.assistant_only_loss,
        completion_only_loss=None,
        **extra,
    )


def build_sft_trainer(settings: SftSettings, callbacks: list[Any] | None = None) -> tuple[Any, Any, Any]:
    """(trainer, tokenizer, prepared data): exposed so benchmarks and tests can drive the loop."""
    from trl import SFTTrainer

    prepared = load_sft(settings.data)
    if prepared.rejected:
        print(f"sft rows not trainable: {dict(prepared.rejected)}", flush=True)
    model, tokenizer = load_model_and_tokenizer(settings)
    trainer = SFTTrainer(
        model=model,
        args=sft_config(settings, tokenizer),
        train_dataset=prepared.dataset(),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    return trainer, tokenizer, prepared


def train_sft(settings: SftSettings, callbacks: list[Any] | None = None) -> TrainResult:
    trainer, tokenizer, prepared = build_sft_trainer(settings, callbacks)
    return train_and_save(trainer, tokenizer, settings, "sft", prepared)
