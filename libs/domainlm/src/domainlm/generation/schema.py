"""The JSON schema the teacher must follow, and the models its answer is validated against."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator


class QAItem(BaseModel):
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    evidence: str = ""


class MCQItem(BaseModel):
    question: str = Field(min_length=1)
    choices: list[str]
    answer_index: int
    evidence: str = ""

    @field_validator("choices")
    @classmethod
    def _four_distinct(cls, v: list[str]) -> list[str]:
        if len(v) < 2 or len({c.strip() for c in v}) != len(v):
            raise ValueError("choices must be at least two distinct strings")
        return v


class GeneratedItems(BaseModel):
    qa: list[dict[str, Any]] = Field(default_factory=list)
    mcq: list[dict[str, Any]] = Field(default_factory=list)


def _string(max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length}


def items_schema(n_qa: int, n_mcq: int, choices: int = 4) -> dict[str, Any]:
    """Lengths are bounded so that even a weak teacher's output ends inside the token budget."""
    qa = {
        "type": "object",
        "properties": {"question": _string(150), "answer": _string(300), "evidence": _string(200)},
        "required": ["question", "answer", "evidence"],
        "additionalProperties": False,
    }
    mcq = {
        "type": "object",
        "properties": {
            "question": _string(150),
            "choices": {"type": "array", "items": _string(80), "minItems": choices, "maxItems": choices},
            "answer_index": {"type": "integer", "minimum": 0, "maximum": choices - 1},
            "evidence": _string(200),
        },
        "required": ["question", "choices", "answer_index", "evidence"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "qa": {"type": "array", "items": qa, "minItems": min(1, n_qa), "maxItems": n_qa},
            "mcq": {"type": "array", "items": mcq, "minItems": min(1, n_mcq), "maxItems": n_mcq},
        },
        "required": ["qa", "mcq"],
        "additionalProperties": False,
    }
