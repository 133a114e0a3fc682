"""The LLM judge: a teacher (or a judge model of its own) asked whether an item holds up.

The LLM-free checks catch the wrong answers that can be read off the text; a judge reads for meaning:
is the answer entailed by the chunk, does the question stand alone, is it about the document. Its
verdicts are kept on the item (a failed one is a doubt, not a rejection) and the review policies send
doubted items to a human.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from domainlm.prompts import load_prompt
from domainlm.records import CheckVerdict, Sample
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
    # Unset means: on when a teacher is configured (a base URL), off for the run's embedded teacher, a
    # tiny model with random weights whose verdicts would only send everything to a human.
    enabled: bool | None = Field(
        None,
        description="ask the judge (the teacher, or the judge model at base_url); "
        "unset: on when a teacher URL is configured",
    )
    base_url: str = Field("", description="a judge model of its own (OpenAI-compatible); default the teacher")
    model: str = Field("", description="the judge's served model name, with base_url")
    api_key: str = Field("EMPTY", description="bearer token for the judge, with base_url")
    prompt_version: str | None = Field(None, description="pin judge-vN.txt; default the newest")


def build_judge(
    settings: JudgeSettings, teacher_settings: TeacherSettings, teacher: Teacher
) -> AnswerJudge | None:
    """The judge the settings ask for: off, the teacher itself, or a separate judge model."""
    if not judge_wanted(settings, teacher_settings):
        return None
    if settings.base_url:
        own = teacher_settings.model_copy(
            update={"base_url": settings.base_url, "model": settings.model, "api_key": settings.api_key}
        )
        return AnswerJudge(TeacherClient(own), settings)
    return AnswerJudge(teacher, settings)


def judge_wanted(settings: JudgeSettings, teacher_settings: TeacherSettings) -> bool:
    """Whether the settings ask for a judge: as set, else when a judge or teacher URL is configured."""
    if settings.enabled is not None:
        return settings.enabled
    return bool(settings.base_url or teacher_settings.base_url)


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


def judge_costs(samples: Iterable[Sample]) -> dict[str, float] | None:
    """What the judge cost over a run's items and how many it doubted; None when it judged none.

    Seconds are summed over calls that ran concurrently: the judge's share of the teacher, not wall time.
    """
    asked = doubted = 0
    totals = dict.fromkeys(("judge_prompt_tokens", "judge_completion_tokens", "judge_seconds"), 0.0)
    for sample in samples:
        verdicts = [c for c in sample.checks if c.name.startswith("judge")]
        if not verdicts:
            continue
        asked += 1
        doubted += not all(c.ok for c in verdicts)
        for key in totals:
            totals[key] += sample.scores.get(key, 0.0)
    if not asked:
        return None
    tokens = totals["judge_prompt_tokens"] + totals["judge_completion_tokens"]
    return {
        "items": asked,
        "doubted": doubted,
        "prompt_tokens": int(totals["judge_prompt_tokens"]),
        "completion_tokens": int(totals["judge_completion_tokens"]),
        "tokens_per_item": round(tokens / asked, 1),
        "call_seconds": round(totals["judge_seconds"], 1),
    }
