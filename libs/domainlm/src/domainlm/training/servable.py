"""A saved model directory that vLLM (or transformers) serves as is.

safetensors weights, config, tokenizer, a chat template, and a `generation_config.json` whose
eos_token_id includes the chat end token, so the server stops where training taught the model to stop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHAT_TEMPLATE_FILE = "chat_template.jinja"


def chat_end_token(tokenizer: Any, explicit: str | None = None) -> str:
    """The token that ends an assistant turn: given, else the tokenizer's eos."""
    token = explicit or tokenizer.eos_token
    if not token:
        raise ValueError("the tokenizer has no eos token; give the chat end token explicitly")
    return str(token)


def with_end_token(eos: int | list[int] | None, end_id: int) -> list[int]:
    """eos ids with the chat end token first, each once."""
    ids = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    return [end_id, *[i for i in ids if i != end_id]]


def save_servable(model: Any, tokenizer: Any, output: Path, end_token: str | None = None) -> Path:
    """Writes model (safetensors), tokenizer, chat template and generation config into `output`."""
    from transformers import GenerationConfig

    output.mkdir(parents=True, exist_ok=True)
    end = chat_end_token(tokenizer, end_token)
    end_id = int(tokenizer.convert_tokens_to_ids(end))
    gen = model.generation_config or GenerationConfig()
    gen.eos_token_id = with_end_token(gen.eos_token_id, end_id)
    if tokenizer.pad_token_id is not None:
        gen.pad_token_id = tokenizer.pad_token_id
    if tokenizer.bos_token_id is not None:
        gen.bos_token_id = tokenizer.bos_token_id
    model.generation_config = gen
    # Training turns the KV cache off under gradient checkpointing; serving wants it.
    model.config.use_cache = True
    model.save_pretrained(output, safe_serialization=True)
    finish_servable(tokenizer, output, end)
    return output


def finish_servable(tokenizer: Any, output: Path, end_token: str) -> None:
    """The non-weight half: tokenizer, chat template file, eos in generation_config (also after a
    trainer's own save, e.g. under DeepSpeed ZeRO-3 where the trainer gathers the weights)."""
    tokenizer.save_pretrained(output)
    if tokenizer.chat_template and not (output / CHAT_TEMPLATE_FILE).exists():
        (output / CHAT_TEMPLATE_FILE).write_text(tokenizer.chat_template, encoding="utf-8")
    gen_path = output / "generation_config.json"
    gen = json.loads(gen_path.read_text()) if gen_path.exists() else {}
    gen["eos_token_id"] = with_end_token(
        gen.get("eos_token_id"), int(tokenizer.convert_tokens_to_ids(end_token))
    )
    gen_path.write_text(json.dumps(gen, indent=2) + "\n")


def servable_problems(model_dir: Path, end_token: str | None = None) -> list[str]:
    """Everything that would stop the directory being served as is (empty when it is servable)."""
    problems: list[str] = []
    if not (model_dir / "config.json").exists():
        return [f"no config.json in {model_dir}"]
    if not list(model_dir.glob("*.safetensors")):
        problems.append("no *.safetensors weights")
    if list(model_dir.glob("pytorch_model*.bin")):
        problems.append("pickled pytorch_model*.bin weights beside or instead of safetensors")
    if not (model_dir / "tokenizer_config.json").exists() or not (
        (model_dir / "tokenizer.json").exists() or list(model_dir.glob("tokenizer.model"))
    ):
        problems.append("no tokenizer (tokenizer_config.json with tokenizer.json or tokenizer.model)")
        return problems
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    if not tok.chat_template:
        problems.append("no chat template (chat_template.jinja or tokenizer_config.json)")
    end = end_token or tok.eos_token
    end_id = tok.convert_tokens_to_ids(end) if end else None
    if end_id is None or end_id == tok.unk_token_id:
        problems.append(f"chat end token {end!r} is not in the vocabulary")
    gen_path = model_dir / "generation_config.json"
    if not gen_path.exists():
        problems.append("no generation_config.json")
    else:
        eos = json.loads(gen_path.read_text()).get("eos_token_id")
        eos_ids = [] if eos is None else [eos] if isinstance(eos, int) else eos
        if end_id is not None and end_id not in eos_ids:
            problems.append(
                f"generation_config.json eos_token_id {eos_ids} lacks the chat end token {end!r} ({end_id})"
            )
    if tok.chat_template and end:
        probe = tok.apply_chat_template(
            [{"role": "user", "content": "?"}, {"role": "assistant", "content": "!"}], tokenize=False
        )
        if end not in str(probe):
            problems.append(f"the chat template does not close an assistant turn with {end!r}")
    if tok.pad_token_id is not None and tok.pad_token_id == end_id:
        problems.append("pad token is the chat end token (training would mask the stop)")
    return problems


class NotServable(RuntimeError):
    pass


def check_servable(model_dir: Path, end_token: str | None = None) -> Path:
    """Raises NotServable listing every problem; returns the directory when it is servable."""
    if problems := servable_problems(model_dir, end_token):
        raise NotServable(f"{model_dir} is not servable as is: " + "; ".join(problems))
    return model_dir
