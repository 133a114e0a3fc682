"""Settings → TRL configs: precision follows the hardware, checkpoints and resume follow the output dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domainlm.training import DpoSettings, SftSettings, deepspeed_config, last_checkpoint


def _settings(tmp_path: Path, **kw: object) -> SftSettings:
    return SftSettings(model=tmp_path / "m", data=tmp_path / "d.jsonl", output=tmp_path / "out", **kw)


def test_cpu_runs_fp32_and_checkpoints_under_output(tmp_path: Path) -> None:
    s = _settings(tmp_path, save_steps=7)
    kw = s.trainer_kwargs()
    assert s.resolved_precision() == "fp32"  # no GPU on the test machine
    assert kw["bf16"] is False and kw["fp16"] is False and kw["use_cpu"] is True
    assert kw["output_dir"] == str(tmp_path / "out" / "checkpoints")
    assert kw["save_strategy"] == "steps" and kw["save_steps"] == 7
    assert kw["deepspeed"] is None
    assert _settings(tmp_path, precision="bf16").trainer_kwargs()["bf16"] is True


def test_sft_config_assistant_only_with_chat_end_token(tmp_path: Path) -> None:
    from domainlm.training.sft import sft_config

    class Tok:
        eos_token = "<|im_end|>"

    cfg = sft_config(_settings(tmp_path, packing=True, max_length=512), Tok())
    assert cfg.assistant_only_loss is True and cfg.packing is True and cfg.max_length == 512
    assert cfg.eos_token == "<|im_end|>" and cfg.bf16 is False


def test_dpo_config_precomputes_reference(tmp_path: Path) -> None:
    from domainlm.training.dpo import dpo_config

    s = DpoSettings(model=tmp_path / "sft", data=tmp_path / "dpo.jsonl", output=tmp_path / "dpo", beta=0.2)
    cfg = dpo_config(s)
    assert cfg.precompute_ref_log_probs is True and cfg.beta == 0.2 and cfg.loss_type == ["sigmoid"]
    assert s.lr < SftSettings.model_fields["lr"].default  # DPO moves gently from the SFT model


def test_resume_follows_checkpoints(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    assert s.resume_from() is None
    with pytest.raises(FileNotFoundError):
        _settings(tmp_path, resume=True).resume_from()
    for step in (5, 10, 40):
        (s.checkpoint_dir / f"checkpoint-{step}").mkdir(parents=True)
        (s.checkpoint_dir / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (s.checkpoint_dir / "checkpoint-90").mkdir()  # torn: preempted while saving, no trainer state
    assert last_checkpoint(s.checkpoint_dir) == s.checkpoint_dir / "checkpoint-40"
    assert s.resume_from() == str(s.checkpoint_dir / "checkpoint-40")
    assert _settings(tmp_path, resume=False).resume_from() is None


def test_zero3_config_gathers_16bit_weights_on_save(tmp_path: Path) -> None:
    path = deepspeed_config("zero3")
    cfg = json.loads(path.read_text())
    assert cfg["zero_optimization"]["stage"] == 3
    assert cfg["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert cfg["train_micro_batch_size_per_gpu"] == "auto"  # the trainer fills batch sizes in
    assert _settings(tmp_path, deepspeed=path).trainer_kwargs()["deepspeed"] == str(path)
    with pytest.raises(FileNotFoundError):
        deepspeed_config("zero9")
