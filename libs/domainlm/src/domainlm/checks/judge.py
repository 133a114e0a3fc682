"""The LLM judge: a teacher (or a judge model of its own) asked whether an item holds up.

The LLM-free checks catch the wrong answers that can be read off the text; a judge reads for meaning:
is the answer entailed by the chunk, does the question stand alone, is it about the document. Its
verdicts are kept on the item (a failed one is a doubt, not a rejection) and the review policies send
doubted items to a human.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from domainlm.prompts import load_prompt
from domainlm.records import CheckVerdict
from domainlm.teacher import Teacher, TeacherError

QUESTIONS = ("entailed", "standalone", "relevant")
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{q: {"type": "boolean"} for q in QUESTIONS},
        "reason": {"type": "string", "minLength": 1, "maxLength": 300},
    },
    "required": [*QUESTIONS, "reason"],
    "additionalProperties": False,
}


class JudgeSettings(BaseModel):
    enabled: bool | None = Field(
        None, description="ask the judge; by default on when an LLM teacher (not the structure one) is set"
    )
    prompt_version: str | None = Field(None, description="pin judge-vN.txt; default the newest")


class JudgeAnswer(BaseModel):
    entailed: bool
    standalone: bool
    relevant: bool
    reason: str


class AnswerJudge:
    """Verdicts named judge-entailed, judge-standalone and judge-relevant, and what asking cost."""

    def __init__(self, teacher: Teacher, settings: JudgeSettings | None = None) -> None:
        self.teacher = teacher
        self.settings = settings or JudgeSettings()
        self.template = load_prompt("judge", self.settings.prompt_version)

    @property
    def id(self) -> str:
        return f"{self.template.id}:{self.teacher.settings.model}"

    async def judge(
        self, question: str, answer: str, chunk: str, section: str
    ) -> tuple[list[CheckVerdict], dict[str, float]]:
        messages = self.template.messages(
            section=section or "(제목 없음)", chunk=chunk, question=question, answer=answer
        )
        start = time.monotonic()
        try:
            completion = await self.teacher.complete_json(messages, _SCHEMA, "judge_verdict")
            verdict = JudgeAnswer.model_validate(json.loads(completion.content, strict=False))
        except TeacherError as e:
            return [
                CheckVerdict(name="judge", ok=False, detail=f"judge-error: {e.reason}: {e.detail[:200]}")
            ], {}
        except (json.JSONDecodeError, ValidationError) as e:
            return [
                CheckVerdict(name="judge", ok=False, detail=f"judge-malformed-output: {str(e)[:200]}")
            ], {}
        cost = {
            "judge_prompt_tokens": float(completion.prompt_tokens),
            "judge_completion_tokens": float(completion.completion_tokens),
            "judge_seconds": round(time.monotonic() - start, 3),
        }
        verdicts = [
            CheckVerdict(name=f"judge-{q}", ok=getattr(verdict, q), detail=verdict.reason) for q in QUESTIONS
        ]
        return verdicts, cost
