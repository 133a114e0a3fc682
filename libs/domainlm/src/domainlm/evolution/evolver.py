"""Evolves verified instructions in depth rounds; every evolution is checked against its source chunk."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from pydantic import BaseModel, Field, ValidationError

from domainlm.asyncbridge import map_concurrently
from domainlm.checks.support import FaithfulnessCheck
from domainlm.evolution.elimination import EliminationSettings, eliminate
from domainlm.funnel import Funnel
from domainlm.generation.schema import QAItem
from domainlm.ledger import Ledger
from domainlm.prompts import PromptTemplate, load_prompt
from domainlm.records import Chunk, ReviewState, Sample, SampleKind, content_id
from domainlm.teacher import Teacher, TeacherError

EVOLUTION_OPS = ("deepening", "broadening", "reasoning", "complexifying")

EVOLVED_SCHEMA = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 1, "maxLength": 300},
        "answer": {"type": "string", "minLength": 1, "maxLength": 600},
        "evidence": {"type": "string", "minLength": 1, "maxLength": 300},
    },
    "required": ["question", "answer", "evidence"],
    "additionalProperties": False,
}


class EvolveSettings(BaseModel):
    ops: list[str] = Field(default_factory=lambda: list(EVOLUTION_OPS))
    depth: int = Field(
        1, ge=0, le=5, description="rounds of evolution; round k evolves round k-1's survivors"
    )
    per_sample: int = Field(1, ge=1, le=4, description="evolutions per sample per round (distinct ops)")
    elimination: EliminationSettings = Field(default_factory=EliminationSettings)


class _Task(BaseModel):
    parent: Sample
    op: str


class _Failure(NamedTuple):
    reason: str
    detail: str
    transient: bool = False  # the teacher failed, not the evolution: not remembered, so retried


_Outcome = Sample | _Failure


class EvolveResult(BaseModel):
    """One parent's evolutions in one round: what survived, what was dropped and why."""

    parent_id: str
    samples: list[Sample] = Field(default_factory=list)
    rejections: list[tuple[str, str, str]] = Field(default_factory=list)  # reason, task id, detail
    transient: bool = Field(False, description="a teacher call failed; retrying may succeed")


class InstructionEvolver:
    """Stage: verified samples in, evolved samples out (parents are not repeated).

    `chunks` maps chunk ids to chunks: an evolution is only kept if its answer is supported by the
    chunk its parent came from.
    """

    name = "evolve"

    def __init__(
        self,
        teacher: Teacher,
        chunks: Mapping[str, Chunk],
        settings: EvolveSettings | None = None,
        check: FaithfulnessCheck | None = None,
        cache: Ledger | None = None,
    ) -> None:
        self.teacher, self.chunks, self.cache = teacher, chunks, cache
        self.settings = settings or EvolveSettings()
        unknown = set(self.settings.ops) - set(EVOLUTION_OPS)
        if unknown:
            raise ValueError(f"unknown evolution ops {sorted(unknown)}; choose from {EVOLUTION_OPS}")
        self.check = check or FaithfulnessCheck()
        self.templates: dict[str, PromptTemplate] = {
            op: load_prompt(f"evolve-{op}") for op in self.settings.ops
        }
        # Cached outcomes are only reused for the same templates and teacher.
        versions = sorted(t.id for t in self.templates.values())
        self._scope = content_id(*versions, teacher.settings.model, length=8)

    def ops_for(self, sample: Sample) -> list[str]:
        """Distinct ops per sample, spread evenly and deterministically over the op list."""
        ops = self.settings.ops
        start = int(content_id("evolve", sample.id, length=8), 16) % len(ops)
        return [ops[(start + i) % len(ops)] for i in range(min(self.settings.per_sample, len(ops)))]

    def evolvable(self, sample: Sample) -> bool:
        """Whether a sample gets another round: QA and evolved items below the configured depth.

        MCQ stems evolve poorly; QA do. The streaming evolver service uses this to stop its loop
        (samples.unique ⇄ samples.evolved) at the same depth as the one-process rounds.
        """
        return sample.kind != SampleKind.MCQ and sample.provenance.depth < self.settings.depth

    def results(self, parents: Iterable[Sample]) -> Iterator[EvolveResult]:
        """One round for each parent (its ops concurrently), per parent as it completes."""
        parents = list(parents)
        tasks = [_Task(parent=s, op=op) for s in parents for op in self.ops_for(s)]
        by_parent = {s.id: EvolveResult(parent_id=s.id) for s in parents}
        left = Counter(t.parent.id for t in tasks)
        for task, outcome in map_concurrently(self._evolve, tasks, self.teacher.settings.concurrency):
            result = by_parent[task.parent.id]
            if isinstance(outcome, Sample):
                result.samples.append(outcome)
            else:
                result.rejections.append((outcome.reason, f"{task.parent.id}:{task.op}", outcome.detail))
                result.transient |= outcome.transient
            left[task.parent.id] -= 1
            if not left[task.parent.id]:
                yield result

    def run(self, records: Iterable[Sample], funnel: Funnel) -> Iterator[Sample]:
        generation = [s for s in records if self.evolvable(s)]
        while generation:
            survivors: list[Sample] = []
            for result in self.results(generation):
                for reason, task_id, detail in result.rejections:
                    funnel.saw(self.name)
                    funnel.reject(self.name, reason, task_id, detail)
                for sample in result.samples:
                    funnel.saw(self.name)
                    funnel.passed_on(self.name)
                    survivors.append(sample)
                    yield sample
            generation = [s for s in survivors if self.evolvable(s)]

    async def _evolve(self, task: _Task) -> tuple[_Task, _Outcome]:
        key = f"{self._scope}:{task.parent.id}:{task.op}"
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return task, Sample.model_validate(hit["sample"]) if "sample" in hit else _Failure(
                hit["reason"], hit["detail"]
            )
        outcome = await self._evolve_uncached(task)
        if self.cache is not None:
            if isinstance(outcome, Sample):
                self.cache.put(key, {"sample": outcome.model_dump(mode="json")})
            elif not outcome.transient:
                self.cache.put(key, {"reason": outcome.reason, "detail": outcome.detail})
        return task, outcome

    async def _evolve_uncached(self, task: _Task) -> _Outcome:
        parent, op = task.parent, task.op
        chunk = self.chunks.get(parent.provenance.chunk_id)
        if chunk is None:
            return _Failure("source-chunk-missing", parent.provenance.chunk_id)
        template = self.templates[op]
        messages = template.messages(
            section=chunk.section or "(제목 없음)",
            chunk=chunk.text,
            instruction=parent.instruction,
            output=parent.output,
        )
        try:
            completion = await self.teacher.complete_json(messages, EVOLVED_SCHEMA, f"evolve_{op}")
            item = QAItem.model_validate(json.loads(completion.content, strict=False))
        except TeacherError as e:
            return _Failure(e.reason, e.detail, transient=True)
        except (json.JSONDecodeError, ValidationError) as e:
            return _Failure("malformed-output", str(e)[:300])
        reason = eliminate(
            item.question, item.answer, parent.instruction, template.fixed_lines(), self.settings.elimination
        )
        if reason:
            return _Failure(
                reason, json.dumps({"q": item.question[:200], "a": item.answer[:200]}, ensure_ascii=False)
            )
        verdict = self.check.check_answer(item.question, item.answer, item.evidence, chunk.text)
        if not verdict.ok:
            return _Failure(verdict.reason, json.dumps(verdict.scores))
        provenance = parent.provenance.model_copy(
            update={
                "parent_id": parent.id,
                "evolution_op": op,
                "depth": parent.provenance.depth + 1,
                "prompt_version": template.id,
                "teacher_model": self.teacher.settings.model,
            }
        )
        return Sample(
            id=Sample.make_id(chunk.id, f"evolved:{op}:{parent.id}", item.question, item.answer),
            kind=SampleKind.EVOLVED,
            instruction=item.question.strip(),
            output=item.answer.strip(),
            provenance=provenance,
            review=ReviewState.APPROVED,
            reviewer="auto:evolve-checks",
            scores=verdict.scores,
        )
