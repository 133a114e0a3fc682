"""Training settings: one pydantic model per method, turned into TRL configs in sft.py and dpo.py.

Precision follows the hardware (bf16 where a GPU supports it, fp32 on CPU); checkpoints land in
`<output>/checkpoints/checkpoint-N`, the final servable model in `<output>` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from domainlm.paths import package_data

Precision = Literal["bf16", "fp32"]
CHECKPOINTS = "checkpoints"
SUMMARY = "train_summary.json"


def deepspeed_config(name: str = "zero3") -> Path:
    """A DeepSpeed config shipped with the package (`zero3`: ZeRO-3, 16-bit weights gathered on save)."""
    path = package_data("training", "deepspeed", f"{name}.json")
    if not path.exists():
        raise FileNotFoundError(f"no DeepSpeed config named {name!r} at {path}")
    return path


def auto_precision() -> Precision:
    import torch

    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"


class TrainSettings(BaseModel):
    """What every training run shares."""

    model: Path = Field(description="model directory (or hub name) to start from")
    data: Path = Field(description="JSONL export of the factory")
    output: Path = Field(description="where checkpoints and the final servable model go")
    epochs: float = 3.0
    max_steps: int = Field(-1, description="stop after this many optimiser steps (-1: epochs decide)")
    lr: float = 2e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    batch_size: int = Field(4, description="per device")
    grad_accum: int = 1
    max_length: int = 2048
    save_steps: int = Field(200, description="checkpoint every N optimiser steps")
    save_total_limit: int = Field(2, description="checkpoints kept (oldest removed first)")
    logging_steps: int = 10
    seed: int = 42
    precision: Precision | None = Field(None, description="None: bf16 on a GPU that has it, else fp32")
    gradient_checkpointing: bool = False
    deepspeed: Path | None = Field(None, description="DeepSpeed JSON config, e.g. deepspeed_config('zero3')")
    resume: bool | None = Field(
        None, description="True: must resume; False: start afresh; None: resume when checkpoints exist"
    )
    chat_end_token: str | None = Field(
        None, description="the token ending a chat turn [default: tokenizer eos]"
    )
    report_to: list[str] = Field(default_factory=list, description="e.g. ['tensorboard']")
    progress: bool = True

    @property
    def checkpoint_dir(self) -> Path:
        return self.output / CHECKPOINTS

    def resolved_precision(self) -> Precision:
        return self.precision or auto_precision()

    def resume_from(self) -> str | None:
        """The checkpoint to resume from, following `resume`; None to start afresh."""
        last = last_checkpoint(self.checkpoint_dir)
        if self.resume is True and last is None:
            raise FileNotFoundError(f"--resume given but no checkpoint under {self.checkpoint_dir}")
        if self.resume is False:
            return None
        return str(last) if last else None

    def trainer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by SFTConfig and DPOConfig (both are TrainingArguments)."""
        import torch

        precision = self.resolved_precision()
        on_cpu = not torch.cuda.is_available()
        return {
            "output_dir": str(self.checkpoint_dir),
            "num_train_epochs": self.epochs,
            "max_steps": self.max_steps,
            "learning_rate": self.lr,
            "lr_scheduler_type": self.lr_scheduler,
            "warmup_steps": self.warmup_ratio,  # transformers 5: a float below 1 is a share of the steps
            "weight_decay": self.weight_decay,
            "per_device_train_batch_size": self.batch_size,
            "gradient_accumulation_steps": self.grad_accum,
            "max_length": self.max_length,
            "save_strategy": "steps",
            "save_steps": self.save_steps,
            "save_total_limit": self.save_total_limit,
            "logging_steps": self.logging_steps,
            "seed": self.seed,
            "data_seed": self.seed,
            "bf16": precision == "bf16",
            "fp16": False,
            "use_cpu": on_cpu,
            "gradient_checkpointing": self.gradient_checkpointing,
            "deepspeed": str(self.deepspeed) if self.deepspeed else None,
            "report_to": self.report_to or "none",
            "disable_tqdm": not self.progress,
            "dataloader_num_workers": 0,
        }


class SftSettings(TrainSettings):
    """Full fine-tuning on conversational rows; loss on assistant tokens only."""

    packing: bool = Field(False, description="pack rows into max_length blocks (padding-free)")
    assistant_only_loss: bool = True


class DpoSettings(TrainSettings):
    """DPO from the SFT checkpoint on conversational prompt/chosen/rejected rows."""

    lr: float = 5e-7
    epochs: float = 1.0
    beta: float = 0.1
    loss_type: str = "sigmoid"
    precompute_ref_log_probs: bool = Field(
        True, description="score the reference once up front, so it need not stay in memory"
    )


def last_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest complete `checkpoint-N` (holding trainer_state.json), or None."""
    if not checkpoint_dir.is_dir():
        return None
    done = [
        p
        for p in checkpoint_dir.glob("checkpoint-*")
        if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").exists()
    ]
    return max(done, key=lambda p: int(p.name.split("-")[-1])) if done else None
