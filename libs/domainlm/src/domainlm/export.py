"""Exports in TRL's conversational formats, each row carrying its provenance.

SFT: {"messages": [...]}; DPO: {"prompt": [...], "chosen": [...], "rejected": [...]}. Both load with
`datasets.load_dataset("json", data_files=...)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from domainlm.jsonl import write_rows
from domainlm.records import PreferencePair, Provenance, Sample, SampleKind

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"


def render_prompt(sample: Sample) -> str:
    """The user turn: a multiple-choice item shows its numbered choices."""
    if sample.kind == SampleKind.MCQ and sample.choices:
        lines = [f"{CIRCLED[i]} {c}" for i, c in enumerate(sample.choices)]
        return sample.instruction + "\n" + "\n".join(lines)
    return sample.instruction


def render_answer(sample: Sample) -> str:
    if sample.kind == SampleKind.MCQ and sample.choices and sample.answer_index is not None:
        return f"{CIRCLED[sample.answer_index]} {sample.choices[sample.answer_index]}"
    return sample.output


def _provenance(p: Provenance) -> dict[str, Any]:
    # Every row gets the same keys with the same types, so `datasets` infers one schema for the file.
    return {
        "doc_id": p.doc_id,
        "source": p.source,
        "pages": p.pages,
        "section": p.section,
        "chunk_id": p.chunk_id,
        "teacher_model": p.teacher_model,
        "prompt_version": p.prompt_version,
        "parent_id": p.parent_id or "",
        "evolution_op": p.evolution_op or "",
        "depth": p.depth,
    }


def _system(system_prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt}] if system_prompt else []


def sft_rows(samples: Iterable[Sample], system_prompt: str = "") -> Iterable[dict[str, Any]]:
    for s in samples:
        yield {
            "id": s.id,
            "kind": s.kind.value,
            "messages": [
                *_system(system_prompt),
                {"role": "user", "content": render_prompt(s)},
                {"role": "assistant", "content": render_answer(s)},
            ],
            "review": s.review.value,
            "provenance": _provenance(s.provenance),
        }


def dpo_rows(pairs: Iterable[PreferencePair], system_prompt: str = "") -> Iterable[dict[str, Any]]:
    for p in pairs:
        yield {
            "id": p.id,
            "prompt": [*_system(system_prompt), {"role": "user", "content": p.prompt}],
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
            "rejected_source": p.rejected_source,
            "in_sft": p.in_sft,
            "provenance": _provenance(p.provenance),
        }


def export_datasets(
    samples: Iterable[Sample],
    pairs: Iterable[PreferencePair],
    out_dir: Path,
    dpo_only: set[str] = frozenset(),  # type: ignore[assignment]
    system_prompt: str = "",
) -> dict[str, int]:
    """Writes sft.jsonl and dpo.jsonl; samples whose prompts are DPO-only stay out of SFT."""
    sft = [s for s in samples if s.is_verified and s.id not in dpo_only]
    return {
        "sft": write_rows(out_dir / "sft.jsonl", sft_rows(sft, system_prompt)),
        "dpo": write_rows(out_dir / "dpo.jsonl", dpo_rows(pairs, system_prompt)),
    }
