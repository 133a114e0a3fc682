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
from domainlm.teacher import Teacher, TeacherClient, TeacherError, TeacherSettings

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
    # Off by default for now: the tests' and the demo's teacher is a tiny model with random weights,
    # whose verdicts would only send everything to a human.
    enabled: bool = Field(False, description="ask the judge (the teacher, or the judge model at base_url)")
    base_url: str = Field("", description="a judge model of its own (OpenAI-compatible); default the teacher")
    model: str = Field("", description="the judge's served model name, with base_url")
    api_key: str = Field("EMPTY", description="bearer token for the judge, with base_url")
    prompt_version: str | None = Field(None, description="pin judge-vN.txt; default the newest")


def build_judge(
    settings: JudgeSettings, teacher_settings: TeacherSettings, teacher: Teacher
) -> AnswerJudge | None:
    """The judge the settings ask for: off, the teacher itself, or a separate judge model."""
    if not settings.enabled:
        return None
    if settings.base_url:
        own = teacher_settings.model_copy(
            update={"base_url": settings.base_url, "model": settings.model, "api_key": settings.api_key}
        )
        return AnswerJudge(TeacherClient(own), settings)
    return AnswerJudge(teacher, settings)


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
