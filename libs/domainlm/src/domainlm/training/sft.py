"""Supervised fine-tuning with TRL's SFTTrainer on the factory's SFT export.

Full fine-tuning, loss on assistant tokens only (the chat template's `{% generation %}` span, which
includes the turn's end token, so the model learns to stop), optional packing (padding-free), bf16 on
GPU and fp32 on CPU, checkpoints every `save_steps`, resume after preemption.
"""

from __future__ import annotations

from typing import Any

from domainlm.training.common import TrainResult, build_trainer, train_and_save
from domainlm.training.data import prepare_sft
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

    return build_trainer(
        settings, "sft", prepare_sft, SFTTrainer, lambda tok: sft_config(settings, tok), callbacks
    )


def train_sft(settings: SftSettings, callbacks: list[Any] | None = None) -> TrainResult:
    trainer, tokenizer, prepared = build_sft_trainer(settings, callbacks)
    return train_and_save(trainer, tokenizer, settings, "sft", prepared)
