"""Training throughput: SFT tokens/s and model FLOPs utilisation (MFU) for a Llama-3.2-1B-shaped model
with random weights (no download), sequence length 2048, bf16, packing; and DPO step time relative to
SFT at the same tokens per step. Both go through domainlm's TRL trainers (build_sft_trainer /
build_dpo_trainer), so the figures are the product's, not a hand-written loop's.

MFU = 6 * params * tokens/s / peak (H100 SXM bf16 dense: 989 TFLOPS; --peak-tflops for another GPU).
The attention FLOPs (12 * layers * hidden * seq per token) are printed as a second figure.

    .venv/bin/python bench/train_bench.py [--steps 20] [--batch-size 4] [--peak-tflops 989]
    .venv/bin/python bench/train_bench.py --cpu-smoke     # a tiny shape for a few steps, to prove the script

Needs a GPU; without one it says so and exits 0 (unless --cpu-smoke).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Llama-3.2-1B: hidden 2048, 16 layers, 32 heads (8 KV), MLP 8192, vocab 128256, tied embeddings.
LLAMA_1B = dict(
    hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
    intermediate_size=8192, vocab_size=128256, tie_word_embeddings=True, head_dim=64,
    max_position_embeddings=131072, rope_theta=500000.0,
)  # fmt: skip
TINY = dict(
    hidden_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
    intermediate_size=256, vocab_size=4096, tie_word_embeddings=True, head_dim=64, max_position_embeddings=4096,
)  # fmt: skip

SYLLABLES = [
    "보험",
    "계약",
    "회사",
    "지급",
    "사유",
    "청구",
    "서류",
    "약관",
    "조항",
    "피보험자",
    "수익자",
    "해지",
    "부활",
    "납입",
    "기간",
    "보장",
    "면책",
    "금액",
    "일",
    "이내",
]


@dataclass
class Timing:
    steps: int
    seconds: float
    tokens: int

    @property
    def step_s(self) -> float:
        return self.seconds / self.steps

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def step_timer(warmup: int):  # -> TrainerCallback that times steps after `warmup`
    import torch
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.t0 = 0.0
            self.tokens0 = 0
            self.timing: Timing | None = None

        def _sync(self) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == warmup:
                self._sync()
                self.t0, self.tokens0 = time.perf_counter(), int(state.num_input_tokens_seen)
            elif state.global_step > warmup:
                self._sync()
                self.timing = Timing(
                    state.global_step - warmup,
                    time.perf_counter() - self.t0,
                    int(state.num_input_tokens_seen) - self.tokens0,
                )

    return StepTimer()


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(SYLLABLES) for _ in range(n))


def build_model_dir(root: Path, shape: dict[str, Any]) -> Path:
    """Random weights in the given shape, with the tiny model's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from domainlm.tinymodel import build_tiny_model

    tok_dir = build_tiny_model(root / "tok", [words(random.Random(0), 400)], hidden_size=64, layers=1)
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    assert len(tokenizer) <= shape["vocab_size"]
    config = LlamaConfig(
        **shape,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(config)
    out = root / "model"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def write_data(root: Path, rows: int, answer_words: int) -> tuple[Path, Path]:
    """SFT rows (a question and a long answer) and DPO rows (same prompt, two long answers)."""
    from domainlm.jsonl import write_rows

    rng = random.Random(0)
    sft, dpo = root / "sft.jsonl", root / "dpo.jsonl"
    write_rows(
        sft,
        [
            {"messages": [{"role": "user", "content": words(rng, answer_words // 4) + "?"},
                          {"role": "assistant", "content": words(rng, answer_words)}]}
            for _ in range(rows)
        ],
    )  # fmt: skip
    write_rows(
        dpo,
        [
            {"prompt": [{"role": "user", "content": words(rng, answer_words // 2) + "?"}],
             "chosen": [{"role": "assistant", "content": words(rng, answer_words // 2)}],
             "rejected": [{"role": "assistant", "content": words(rng, answer_words // 2)}]}
            for _ in range(rows)
        ],
    )  # fmt: skip
    return sft, dpo


def count_params(model_dir: Path) -> int:
    from transformers import AutoConfig, AutoModelForCausalLM

    with __import__("torch").device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir))
    return sum(p.numel() for p in model.parameters())  # tied embeddings are counted once


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from domainlm.training import DpoSettings, SftSettings
    from domainlm.training.dpo import build_dpo_trainer
    from domainlm.training.sft import build_sft_trainer

    gpu = torch.cuda.is_available()
    shape = TINY if args.cpu_smoke else LLAMA_1B
    seq = 128 if args.cpu_smoke else args.seq_len
    steps = 3 if args.cpu_smoke else args.steps
    warmup = 1 if args.cpu_smoke else args.warmup
    batch = 2 if args.cpu_smoke else args.batch_size
    total = warmup + steps
    root = Path(tempfile.mkdtemp(prefix="train-bench-"))
    model_dir = build_model_dir(root, shape)
    params = count_params(model_dir)
    # Answers long enough that packing fills blocks; enough rows for every timed step.
    answer_words = max(8, seq // 6)
    sft_data, dpo_data = write_data(root, rows=total * batch * 4, answer_words=answer_words)
    common: dict[str, Any] = dict(
        model=model_dir, max_steps=total, batch_size=batch, save_steps=10**9, logging_steps=10**9,
        precision="bf16" if gpu else "fp32", gradient_checkpointing=args.gradient_checkpointing,
        progress=False, lr=1e-5, warmup_ratio=0.0,
    )  # fmt: skip

    def timed(build: Any, settings: Any) -> tuple[Timing, float]:
        """Trains through domainlm's trainer builder; the steps after warmup timed, and peak GiB."""
        timer = step_timer(warmup)
        trainer, _, _ = build(settings, callbacks=[timer])
        trainer.args.include_num_input_tokens_seen = "non_padding"
        trainer.train()
        assert timer.timing is not None
        peak_gb = torch.cuda.max_memory_allocated() / 2**30 if gpu else 0.0
        del trainer
        if gpu:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        return timer.timing, peak_gb

    sft = SftSettings(data=sft_data, output=root / "sft", packing=True, max_length=seq, **common)
    s, peak_gb = timed(build_sft_trainer, sft)
    # DPO: `batch/2` pairs of two `seq/2`-token sequences each (prompt + answer) ≈ SFT's tokens per step.
    dpo = DpoSettings(
        data=dpo_data, output=root / "dpo", max_length=seq, precompute_ref_log_probs=True, **common
    )
    d, dpo_peak_gb = timed(build_dpo_trainer, dpo)

    peak = args.peak_tflops * 1e12
    attn_flops_per_token = 12 * shape["num_hidden_layers"] * shape["hidden_size"] * seq
    result = {
        "device": torch.cuda.get_device_name() if gpu else "cpu",
        "shape": "tiny (cpu smoke)" if args.cpu_smoke else "Llama-3.2-1B",
        "params": params,
        "seq_len": seq,
        "precision": sft.resolved_precision(),
        "sft_batch": batch,
        "sft_step_s": round(s.step_s, 4),
        "sft_tokens_per_step": s.tokens // s.steps,
        "sft_tokens_per_s": round(s.tokens_per_s, 1),
        "sft_mfu": round(6 * params * s.tokens_per_s / peak, 4),
        "sft_mfu_with_attention": round((6 * params + attn_flops_per_token) * s.tokens_per_s / peak, 4),
        "sft_peak_mem_gib": round(peak_gb, 1),
        "dpo_pairs_per_step": dpo.batch_size,
        "dpo_step_s": round(d.step_s, 4),
        "dpo_tokens_per_step": d.tokens // d.steps,
        "dpo_tokens_per_s": round(d.tokens_per_s, 1),
        "dpo_step_over_sft_step": round(d.step_s / s.step_s, 3),
        "dpo_time_per_token_over_sft": round(s.tokens_per_s / d.tokens_per_s, 3),
        "dpo_peak_mem_gib": round(dpo_peak_gb, 1),
        "peak_tflops": args.peak_tflops,
        "timed_steps": steps,
    }
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu-smoke", action="store_true", help="tiny shape, a few steps on CPU")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--batch-size", type=int, default=4, help="packed blocks per SFT step; pairs per DPO step")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak (H100 SXM: 989)")
    p.add_argument("--json", type=Path, help="write the figures here too")
    args = p.parse_args()

    import torch

    if not torch.cuda.is_available() and not args.cpu_smoke:
        print("train_bench: no GPU here; the figures need one (run with --cpu-smoke to check the script)")
        return 0
    result = run(args)
    for k, v in result.items():
        print(f"{k:32} {v}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if not args.cpu_smoke:
        print(f"\nSFT MFU {100 * result['sft_mfu']:.1f}% (target >= 45% on an H100)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
