"""DPO with TRL's DPOTrainer from the SFT checkpoint, on the factory's conversational DPO export.

With `precompute_ref_log_probs` the reference (the SFT model as loaded) is scored once before training
and not kept in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from domainlm.training.common import TrainResult, build_trainer, train_and_save
from domainlm.training.data import prepare_dpo
from domainlm.training.evaluate import load_for_eval, token_ids
from domainlm.training.settings import DpoSettings


def dpo_config(settings: DpoSettings):  # -> trl.DPOConfig
    from trl import DPOConfig

    return DPOConfig(
        **settings.trainer_kwargs(),
        beta=settings.beta,
        loss_type=[settings.loss_type],
        precompute_ref_log_probs=settings.precompute_ref_log_probs,
    )


def build_dpo_trainer(settings: DpoSettings, callbacks: list[Any] | None = None) -> tuple[Any, Any, Any]:
    from trl import DPOTrainer

    return build_trainer(
        settings, "dpo", prepare_dpo, DPOTrainer, lambda tok: dpo_config(settings), callbacks
    )


def train_dpo(settings: DpoSettings, callbacks: list[Any] | None = None) -> TrainResult:
    trainer, tokenizer, prepared = build_dpo_trainer(settings, callbacks)
    return train_and_save(trainer, tokenizer, settings, "dpo", prepared)


def completion_logprob(
    model: Any, tokenizer: Any, prompt: Sequence[dict], completion: Sequence[dict]
) -> float:
    """Summed log-probability of the completion's tokens after the prompt, under the chat template."""
    import torch

    prompt_ids = tokenizer.apply_chat_template(list(prompt), tokenize=True, add_generation_prompt=True)
    full_ids = tokenizer.apply_chat_template(list(prompt) + list(completion), tokenize=True)
    prompt_ids, full_ids = token_ids(prompt_ids), token_ids(full_ids)
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise ValueError("the chat template does not render the prompt as a prefix of the conversation")
    ids = torch.tensor([full_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    logps = torch.log_softmax(logits[0, :-1], dim=-1)
    targets = ids[0, 1:]
    picked = logps.gather(1, targets[:, None])[:, 0]
    return float(picked[len(prompt_ids) - 1 :].sum())


def preference_margins(model_dir: Path, rows: Iterable[dict[str, Any]]) -> list[float]:
    """log p(chosen) - log p(rejected) per row, for a saved model: what DPO should raise."""
    model, tokenizer = load_for_eval(model_dir)
    return [
        completion_logprob(model, tokenizer, r["prompt"], r["chosen"])
        - completion_logprob(model, tokenizer, r["prompt"], r["rejected"])
        for r in rows
    ]
