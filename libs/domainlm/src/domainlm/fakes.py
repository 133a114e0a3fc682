"""In-memory fakes for unit tests of stage logic (integration tests use the real vLLM server instead).

`ExtractiveTeacher` answers like a diligent but unimaginative teacher: it copies sentences of the
excerpt in the prompt as answers and evidence, and writes distractors by negating them. That is enough
for faithful items to survive every check, so the runner's accounting, resume and exports can be
tested deterministically and fast.
"""

from __future__ import annotations

import json
import re
from typing import Any

from domainlm.teacher.client import Completion, TeacherError
from domainlm.teacher.settings import TeacherSettings

_SENTENCE = re.compile(r"[^.!?\n]{12,}?(?:다\.|요\.)")


def _sentences(prompt: str) -> list[str]:
    # The excerpt follows the "[발췌문]" marker in the generate and evolve templates and ends at the
    # first blank line, where the instructions begin.
    body = prompt.split("[발췌문]", 1)[-1].strip("\n").split("\n\n", 1)[0]
    return [s.strip() for s in _SENTENCE.findall(body)]


def _negate(sentence: str, k: int) -> str:
    variants = [
        sentence.replace("합니다", "하지 않습니다", 1),
        re.sub(r"\d+", lambda m: str(int(m.group()) * 2 + 7), sentence, count=1),
        "회사는 어떠한 경우에도 책임지지 않습니다.",
        "이 조항은 계약자에게 적용되지 않으며 별도의 약정이 우선합니다.",
    ]
    out = variants[k % len(variants)]
    return out if out != sentence else f"{sentence[:-1]} 않는 것은 아닙니다."


class ExtractiveTeacher:
    """A `domainlm.teacher.Teacher`: `settings` and `complete_json`."""

    def __init__(self, fail_every: int = 0, malformed_every: int = 0) -> None:
        self.settings = TeacherSettings(base_url="http://fake", model="fake-extractive", concurrency=4)
        self.calls = 0
        self.fail_every, self.malformed_every = fail_every, malformed_every

    async def complete_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], schema_name: str
    ) -> Completion:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise TeacherError("teacher-http-503", "fake outage")
        if self.malformed_every and self.calls % self.malformed_every == 0:
            return Completion('{"qa": [{"question": "잘린', "stop", 5)
        if schema_name == "judge_verdict":  # asked as the judge: finds every answer entailed
            return await ScriptedJudge(set()).complete_json(messages, schema, schema_name)
        user = messages[-1]["content"]
        sentences = _sentences(user) or ["이 조항에는 문장이 없습니다."]
        if schema_name.startswith("evolve"):
            answer = sentences[len(sentences) // 2]
            item = {
                "question": f"다음 내용을 약관에 근거해 자세히 설명하세요: {answer[:20]}",
                "answer": answer,
                "evidence": answer,
            }
            return Completion(json.dumps(item, ensure_ascii=False), "stop", 50)
        props = schema["properties"]
        n_qa, n_mcq = props["qa"]["maxItems"], props["mcq"]["maxItems"]
        qa = [
            {
                "question": f"약관에서 다음 내용은 어떻게 정해져 있습니까? ({s[:12]})",
                "answer": s,
                "evidence": s,
            }
            for s in sentences[:n_qa]
        ]
        mcq = []
        for i, s in enumerate(sentences[:n_mcq]):
            choices = [_negate(s, i), s[:80], _negate(s, i + 1), _negate(s, i + 2)]
            mcq.append(
                {
                    "question": f"다음 중 약관의 내용으로 옳은 것은? ({i + 1})",
                    "choices": choices,
                    "answer_index": 1,
                    "evidence": s,
                }
            )
        return Completion(json.dumps({"qa": qa, "mcq": mcq}, ensure_ascii=False), "stop", 100)


class ScriptedJudge:
    """A judge that says what its script says: answers it is told are wrong are not entailed.

    `wrong_answers` holds (question, answer) pairs. A tiny model cannot judge; this fake proves the plumbing (request, structured answer, verdicts on
    the item, the review route) without pretending to measure a judge's accuracy.
    """

    def __init__(self, wrong_answers: set[tuple[str, str]]) -> None:
        self.settings = TeacherSettings(base_url="http://fake", model="fake-judge", concurrency=8)
        self.wrong = wrong_answers
        self.calls = 0

    async def complete_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], schema_name: str
    ) -> Completion:
        self.calls += 1
        prompt = messages[-1]["content"]
        question = prompt.split("[질문] ", 1)[1].split("\n", 1)[0].strip()
        answer = prompt.split("[답변] ", 1)[1].split("\n", 1)[0].strip()
        entailed = (
            question,
            answer,
        ) not in self.wrong  # keyed by both: one text can be right for another question
        verdict = {"entailed": entailed, "standalone": True, "relevant": True, "reason": "scripted"}
        return Completion(json.dumps(verdict, ensure_ascii=False), "stop", 20, 200)
