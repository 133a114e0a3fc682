"""A tiny Llama built locally, for tests and the demo: no model hub is needed.

Byte-level BPE trained on the given corpus, an explicit ChatML-style chat template, pad distinct from
eos, and attention heads of size 64 (vLLM's CPU attention rejects head_dim 16). The weights are random:
the model proves plumbing, not knowledge.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

BOS, EOS, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [BOS, EOS, PAD, IM_START, IM_END]

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}"
    "{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# A few lines of Korean policy prose so a tokenizer can be built even with no corpus given.
_FALLBACK_CORPUS = [
    "제1조(목적) 이 약관은 보험계약자와 회사 사이의 권리와 의무를 정합니다.",
    "회사는 보험기간 중에 발생한 보험금 지급사유에 대하여 보험금을 지급합니다.",
    "보험계약자는 계약 전 알릴 의무를 성실히 이행하여야 합니다. 1. 2. 가. 나. ① ② ③",
    "The insured shall notify the company without delay. 0123456789 %()[]{}:;,.?!-",
]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4000):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def build_tiny_model(
    output: Path,
    corpus_texts: Iterable[str] = (),
    vocab_size: int = 4000,
    hidden_size: int = 256,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """Writes a servable tiny Llama (safetensors, tokenizer, chat template, generation config)."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [t for t in corpus_texts if t.strip()] or _FALLBACK_CORPUS
    tok = train_tokenizer(texts, vocab_size=vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=IM_END, pad_token=PAD, unk_token=None
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    ids: dict[str, int] = {t: int(tokenizer.convert_tokens_to_ids(t)) for t in SPECIAL_TOKENS}  # type: ignore[arg-type]

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=hidden_size // 64,
        num_key_value_heads=hidden_size // 64,
        head_dim=64,
        max_position_embeddings=4096,
        bos_token_id=ids[BOS],
        eos_token_id=[ids[IM_END], ids[EOS]],
        pad_token_id=ids[PAD],
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=ids[BOS], eos_token_id=[ids[IM_END], ids[EOS]], pad_token_id=ids[PAD]
    )
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    # vLLM reads the chat template from the tokenizer config; keep a plain copy for other servers too.
    (output / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
    (output / "domainlm-tiny.json").write_text(json.dumps({"seed": seed, "vocab": len(tokenizer)}))
    return output
