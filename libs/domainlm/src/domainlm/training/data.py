"""The factory's exports as TRL datasets: conversational rows kept, provenance and ids dropped.

Rows that cannot train are counted with a reason, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

ROLES = {"system", "user", "assistant"}


@dataclass
class Prepared:
    rows: list[dict[str, Any]]
    rejected: Counter[str] = field(default_factory=Counter)

    def dataset(self):  # -> datasets.Dataset
        from datasets import Dataset

        if not self.rows:
            raise ValueError(f"no trainable rows (rejected: {dict(self.rejected) or 'none'})")
        return Dataset.from_list(self.rows)


def _messages(value: Any) -> list[dict[str, str]] | None:
    """A clean list of {role, content} messages, or None when it is not one."""
    if not isinstance(value, list) or not value:
        return None
    out = []
    for m in value:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return None
        out.append({"role": m["role"], "content": m["content"]})
    return out


def sft_reason(row: dict[str, Any]) -> str | None:
    """Why an SFT row cannot train (None when it can)."""
    messages = _messages(row.get("messages"))
    if messages is None:
        return "bad-messages"
    if not any(m["role"] == "assistant" and m["content"].strip() for m in messages):
        return "no-assistant-turn"
    if messages[-1]["role"] != "assistant":
        return "ends-without-assistant"
    return None


def prepare_sft(rows: Iterable[dict[str, Any]]) -> Prepared:
    """`{"messages": [...]}` only: assistant-only loss needs the conversational form, nothing else."""
    return _prepare(rows, sft_reason, ("messages",))


def dpo_reason(row: dict[str, Any]) -> str | None:
    prompt = _messages(row.get("prompt"))
    chosen, rejected = _messages(row.get("chosen")), _messages(row.get("rejected"))
    if prompt is None or chosen is None or rejected is None:
        return "bad-messages"
    if prompt[-1]["role"] != "user":
        return "prompt-ends-without-user"
    if any(m["role"] != "assistant" for m in chosen + rejected):
        return "completion-not-assistant"
    if [m["content"] for m in chosen] == [m["content"] for m in rejected]:
        return "chosen-equals-rejected"
    return None


def prepare_dpo(rows: Iterable[dict[str, Any]]) -> Prepared:
    """Conversational `prompt` / `chosen` / `rejected` only (TRL applies the chat template itself)."""
    return _prepare(rows, dpo_reason, ("prompt", "chosen", "rejected"))


def _prepare(
    rows: Iterable[dict[str, Any]], reason: Callable[[dict[str, Any]], str | None], keys: tuple[str, ...]
) -> Prepared:
    """The rows `reason` passes, cut down to the clean messages under `keys`; the others counted."""
    out = Prepared([])
    for row in rows:
        if why := reason(row):
            out.rejected[why] += 1
        else:
            out.rows.append({k: _messages(row[k]) for k in keys})
    return out
