"""The training loop on CPU: tiny model → SFT until it reproduces a dozen Korean QA pairs → saved →
served by the real vLLM server, which answers each trained question with its trained answer (greedy);
then DPO from that checkpoint raises the chosen-over-rejected margin; and a run stopped mid-way
resumes from its checkpoint to the same final step as an uninterrupted one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from domainlm.tinymodel import IM_END, build_tiny_model
from domainlm.training import DpoSettings, SftSettings, check_servable
from domainlm.training.dpo import preference_margins, train_dpo
from domainlm.training.sft import train_sft
from domainlm.vllm_server import VllmServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QA = [
    ("보험금은 언제까지 지급하나요?", "청구서류를 접수한 날부터 3영업일 이내에 지급합니다."),
    (
        "계약 전 알릴 의무란 무엇인가요?",
        "청약할 때 회사가 묻는 중요한 사항을 사실대로 알려야 하는 의무입니다.",
    ),
    ("청약은 언제까지 철회할 수 있나요?", "보험증권을 받은 날부터 15일 이내에 철회할 수 있습니다."),
    ("보험료를 내지 않으면 어떻게 되나요?", "납입최고기간이 끝나는 날의 다음 날부터 계약이 해지됩니다."),
    ("해지된 계약은 부활할 수 있나요?", "해지된 날부터 3년 이내에 부활을 청약할 수 있습니다."),
    ("보험기간은 언제 시작하나요?", "회사가 제1회 보험료를 받은 때부터 보장이 시작됩니다."),
    ("보험수익자는 누구인가요?", "보험금 지급사유가 생겼을 때 보험금을 받는 사람입니다."),
    (
        "고의로 사고를 낸 경우에도 보험금을 받나요?",
        "피보험자가 고의로 자신을 해친 경우에는 지급하지 않습니다.",
    ),
    ("보험금 청구에 필요한 서류는 무엇인가요?", "청구서, 사고증명서, 신분증이 필요합니다."),
    (
        "분쟁이 생기면 어디에 조정을 신청하나요?",
        "금융감독원의 금융분쟁조정위원회에 조정을 신청할 수 있습니다.",
    ),
    ("보험금 청구권의 소멸시효는 얼마인가요?", "3년간 행사하지 않으면 소멸시효가 완성됩니다."),
    (
        "약관의 해석은 어떻게 하나요?",
        "신의성실의 원칙에 따라 공정하게 해석하며 뜻이 명백하지 않으면 계약자에게 유리하게 해석합니다.",
    ),
]
PROVENANCE = {"doc_id": "d0", "source": "sample.pdf", "pages": [1], "section": "제1조", "chunk_id": "c0"}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _sft_rows(qa: list[tuple[str, str]]) -> list[dict[str, Any]]:
    # The factory's export shape: messages plus id/kind/review/provenance, which training drops.
    return [
        {
            "id": f"s{i}",
            "kind": "qa",
            "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
            "review": "approved",
            "provenance": PROVENANCE,
        }
        for i, (q, a) in enumerate(qa)
    ]


def _dpo_rows() -> list[dict[str, Any]]:
    # Rejected: another question's answer (a plausible but wrong 약관 answer).
    return [
        {
            "id": f"p{i}",
            "prompt": [{"role": "user", "content": q}],
            "chosen": [{"role": "assistant", "content": a}],
            "rejected": [{"role": "assistant", "content": QA[(i + 1) % len(QA)][1]}],
            "rejected_source": "other-answer",
            "in_sft": True,
            "provenance": PROVENANCE,
        }
        for i, (q, a) in enumerate(QA)
    ]


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama, its tokenizer trained on the sample policy's text and the QA text."""
    from domainlm.extract import PdfExtractor
    from domainlm.funnel import Funnel
    from domainlm.paths import sample_policy

    pages = [p.text for p in PdfExtractor().run([str(sample_policy())], Funnel())]
    qa_text = [f"{q} {a}" for q, a in QA]
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny", pages + qa_text)


@pytest.fixture(scope="module")
def sft_model(base_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("sft")
    data = _write(work / "sft.jsonl", _sft_rows(QA))
    started = time.monotonic()
    # One full batch per step; a constant, high learning rate memorises a dozen pairs in ~40 steps.
    result = train_sft(
        SftSettings(
            model=base_model,
            data=data,
            output=work / "model",
            epochs=50,
            lr=3e-3,
            batch_size=12,
            lr_scheduler="constant",
            warmup_ratio=0.0,
            save_steps=25,
            logging_steps=10,
            max_length=256,
        )
    )
    print(f"SFT: {result.global_step} steps in {time.monotonic() - started:.1f}s, {result.metrics}")
    assert result.global_step == 50 and result.precision == "fp32" and result.rows == len(QA)
    return result.output


def test_sft_model_served_by_vllm_answers_trained_questions(sft_model: Path, tmp_path: Path) -> None:
    check_servable(sft_model, IM_END)
    from transformers import AutoTokenizer

    gen = json.loads((sft_model / "generation_config.json").read_text())
    # The chat end token leads the eos list, so vLLM stops where training taught the model to stop.
    assert gen["eos_token_id"][0] == AutoTokenizer.from_pretrained(sft_model).convert_tokens_to_ids(IM_END)
    with VllmServer(sft_model, "domain-tiny", log_path=tmp_path / "vllm.log", enforce_eager=True) as server:
        wrong = []
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            for question, answer in QA:
                r = client.post(
                    "/chat/completions",
                    json={
                        "model": "domain-tiny",
                        "messages": [{"role": "user", "content": question}],
                        "temperature": 0,
                        "max_tokens": 96,
                    },
                )
                r.raise_for_status()
                choice = r.json()["choices"][0]
                if choice["message"]["content"] != answer or choice["finish_reason"] != "stop":
                    wrong.append((question, choice["message"]["content"], choice["finish_reason"]))
    assert not wrong, wrong


def test_dpo_from_sft_raises_chosen_over_rejected_margin(sft_model: Path, tmp_path: Path) -> None:
    rows = _dpo_rows()
    data = _write(tmp_path / "dpo.jsonl", rows)
    before = preference_margins(sft_model, rows)
    result = train_dpo(
        DpoSettings(
            model=sft_model,
            data=data,
            output=tmp_path / "dpo",
            epochs=3,
            lr=1e-4,
            batch_size=12,
            lr_scheduler="constant",
            warmup_ratio=0.0,
            beta=0.1,
            precompute_ref_log_probs=True,
            max_length=256,
            logging_steps=1,
        )
    )
    after = preference_margins(result.output, rows)
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    print(f"DPO: margin {mean_before:.2f} -> {mean_after:.2f} in {result.global_step} steps")
    assert result.global_step == 3
    assert mean_after > mean_before + 1.0
    assert sum(a > b for a, b in zip(after, before, strict=True)) >= len(rows) - 1
    check_servable(result.output, IM_END)


def test_preempted_sft_resumes_from_its_checkpoint(base_model: Path, tmp_path: Path) -> None:
    """Stopped after 3 of 6 steps (as a preempted Job), the same command resumes and ends where an
    uninterrupted run ends: the same step count and the same weights."""
    import torch
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    class Preempt(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if state.global_step == 3:
                control.should_training_stop = True
            return control

    data = _write(tmp_path / "sft.jsonl", _sft_rows(QA[:6]))

    def settings(out: str) -> SftSettings:
        return SftSettings(
            model=base_model,
            data=data,
            output=tmp_path / out,
            epochs=2,
            lr=1e-3,
            batch_size=2,
            save_steps=3,
            logging_steps=1,
            max_length=128,
            progress=False,
        )

    first = train_sft(settings("resumed"), callbacks=[Preempt()])
    assert first.global_step == 3 and first.resumed_from is None
    assert (tmp_path / "resumed" / "checkpoints" / "checkpoint-3" / "trainer_state.json").exists()
    second = train_sft(settings("resumed"))  # no flag: checkpoints in the output mean resume
    assert second.resumed_from is not None and second.resumed_from.endswith("checkpoint-3")
    assert second.global_step == 6
    straight = train_sft(settings("straight"))
    assert straight.global_step == 6 and straight.resumed_from is None
    a = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    b = load_file(str(tmp_path / "straight" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
