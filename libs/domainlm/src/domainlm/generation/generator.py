"""The generate stage: one chunk → one structured request → checked QA and MCQ samples."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError

from domainlm.asyncbridge import map_concurrently
from domainlm.checks import AnswerChecks, CheckSettings
from domainlm.checks.judge import AnswerJudge
from domainlm.checks.support import ItemChecks, Verdict
from domainlm.funnel import Funnel
from domainlm.generation.schema import GeneratedItems, MCQItem, QAItem, items_schema
from domainlm.generation.structure import STRUCTURE_TEACHER, StructureItems, StructureSettings
from domainlm.ledger import Ledger
from domainlm.prompts import PromptTemplate, load_prompt
from domainlm.records import Chunk, Provenance, Sample, SampleKind, content_id
from domainlm.teacher import Teacher, TeacherError

M = TypeVar("M", bound=BaseModel)


class GenerateSettings(BaseModel):
    qa_per_chunk: int = Field(3, ge=0, le=20)
    mcq_per_chunk: int = Field(2, ge=0, le=20)
    prompt: str = Field("generate", description="prompt template name (prompts/NAME-vN.txt)")
    prompt_version: str | None = Field(None, description="pin a template version; default the newest")
    checks: CheckSettings = Field(default_factory=CheckSettings)
    structure: StructureSettings = Field(default_factory=StructureSettings)


@dataclass(frozen=True)
class _Source:
    """Where items came from: the teacher's model name (or `structure`), its template, an id prefix."""

    teacher: str
    template: str
    prefix: str


class ChunkResult(BaseModel):
    """What one chunk produced: samples that passed, and why the rest did not."""

    chunk_id: str
    samples: list[Sample] = Field(default_factory=list)
    rejections: list[tuple[str, str, str]] = Field(default_factory=list)  # reason, record id, detail
    transient: bool = Field(False, description="failed for a reason a re-run may not hit again")


class SampleGenerator:
    """Items per chunk from an LLM teacher, from the document's structure (`structure`), or both; every
    item, whatever its source, passes the same checks and names its source in its provenance."""

    name = "generate"

    def __init__(
        self,
        teacher: Teacher | None,
        settings: GenerateSettings | None = None,
        check: ItemChecks | None = None,
        cache: Ledger | None = None,
        judge: AnswerJudge | None = None,
        structure: StructureItems | None = None,
    ) -> None:
        if teacher is None and structure is None:
            raise ValueError("a generator needs a teacher, the structure generator, or both")
        self.teacher, self.cache, self.judge, self.structure = teacher, cache, judge, structure
        self.reused = 0  # results taken from the cache
        self.settings = settings or GenerateSettings()
        self.check = check or AnswerChecks(self.settings.checks)
        self.template: PromptTemplate = load_prompt(self.settings.prompt, self.settings.prompt_version)
        self.schema = items_schema(self.settings.qa_per_chunk, self.settings.mcq_per_chunk)
        s = self.settings
        # Cached results are only reused for the same request: template, item counts, teacher, checks,
        # judge, and the structure generator's templates and settings.
        self._scope = content_id(
            self.template.id,
            s.qa_per_chunk,
            s.mcq_per_chunk,
            teacher.settings.model if teacher else "",
            s.checks.model_dump_json(),
            judge.id if judge else "",
            f"{structure.id}:{s.structure.model_dump_json()}" if structure else "",
            length=8,
        )

    @property
    def concurrency(self) -> int:
        return self.teacher.settings.concurrency if self.teacher else 4

    def run(self, records: Iterable[Chunk], funnel: Funnel) -> Iterator[Sample]:
        for result in self.results(records):
            yield from self.account(result, funnel)

    def results(self, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        """Per-chunk results as they complete, with `concurrency` requests in flight."""
        yield from map_concurrently(self.generate_one, chunks, self.concurrency)

    @classmethod
    def account(cls, result: ChunkResult, funnel: Funnel) -> Iterator[Sample]:
        """Counts one chunk's result in the funnel and passes its samples on."""
        funnel.saw(cls.name)
        for reason, record_id, detail in result.rejections:
            funnel.reject(cls.name, reason, record_id, detail)
        for sample in result.samples:
            funnel.passed_on(cls.name)
            yield sample

    def messages(self, chunk: Chunk) -> list[dict[str, str]]:
        """The chat request for one chunk, from the versioned template."""
        s = self.settings
        return self.template.messages(
            section=chunk.section or "(제목 없음)",
            chunk=chunk.text,
            n_qa=s.qa_per_chunk,
            n_mcq=s.mcq_per_chunk,
        )

    async def generate_one(self, chunk: Chunk) -> ChunkResult:
        """One chunk's result; with a cache, a chunk done before is not sent again."""
        key = f"{self._scope}:{chunk.id}"
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.reused += 1
            return ChunkResult.model_validate(hit)
        result = await self._generate(chunk)
        if self.cache is not None and not result.transient:  # teacher outages are retried next time
            self.cache.put(key, result.model_dump(mode="json"))
        return result

    async def _generate(self, chunk: Chunk) -> ChunkResult:
        result = ChunkResult(chunk_id=chunk.id)
        if self.structure is not None:
            found = GeneratedItems.model_validate(self.structure.items(chunk))
            self._add_items(result, chunk, found, _Source(STRUCTURE_TEACHER, self.structure.id, "s-"))
        if self.teacher is not None and (items := await self._ask_teacher(chunk, result)) is not None:
            self._add_items(result, chunk, items, _Source(self.teacher.settings.model, self.template.id, ""))
        if self.judge is not None:
            await asyncio.gather(*(self._judge(sample, chunk) for sample in result.samples))
        return result

    async def _ask_teacher(self, chunk: Chunk, result: ChunkResult) -> GeneratedItems | None:
        assert self.teacher is not None
        try:
            completion = await self.teacher.complete_json(self.messages(chunk), self.schema, "policy_items")
        except TeacherError as e:
            result.rejections.append((e.reason, chunk.id, e.detail))
            result.transient = True
            return None
        if completion.finish_reason == "length":
            result.rejections.append(("truncated-output", chunk.id, completion.content[-300:]))
            return None
        # strict=False: xgrammar lets raw control characters into JSON strings; the text is still usable.
        try:
            return GeneratedItems.model_validate(json.loads(completion.content, strict=False))
        except (json.JSONDecodeError, ValidationError) as e:
            result.rejections.append(
                ("malformed-output", chunk.id, f"{e}; output={completion.content[:300]}")
            )
            return None

    def _add_items(self, result: ChunkResult, chunk: Chunk, items: GeneratedItems, source: _Source) -> None:
        for i, raw in enumerate(items.qa):
            self._add_qa(result, chunk, i, raw, source)
        for i, raw in enumerate(items.mcq):
            self._add_mcq(result, chunk, i, raw, source)

    async def _judge(self, sample: Sample, chunk: Chunk) -> None:
        # The judge's doubts stay on the item for the reviewer and the review policy; they reject nothing.
        assert self.judge is not None
        verdicts, cost = await self.judge.judge(sample.instruction, sample.output, chunk.text, chunk.section)
        sample.checks += verdicts
        sample.scores.update(cost)

    @staticmethod
    def _provenance(chunk: Chunk, source: _Source) -> Provenance:
        return Provenance(
            doc_id=chunk.doc_id,
            source=chunk.source,
            pages=chunk.pages,
            section=chunk.section,
            chunk_id=chunk.id,
            teacher_model=source.teacher,
            prompt_version=source.template,
        )

    @staticmethod
    def _parse(result: ChunkResult, item_id: str, model: type[M], raw: dict[str, object]) -> M | None:
        try:
            return model.model_validate(raw)
        except ValidationError as e:
            result.rejections.append(("invalid-item", item_id, str(e)[:300]))
            return None

    def _add_qa(
        self, result: ChunkResult, chunk: Chunk, i: int, raw: dict[str, object], source: _Source
    ) -> None:
        item_id = f"{chunk.id}:{source.prefix}qa{i}"
        if (qa := self._parse(result, item_id, QAItem, raw)) is None:
            return
        verdict = self.check.check_answer(
            qa.question, qa.answer, qa.evidence, chunk.text, chunk.section, chunk.document_articles
        )
        self._keep(
            result, chunk, item_id, verdict, SampleKind.QA, qa.question, qa.answer, None, None, qa.evidence,
            source,
        )  # fmt: skip

    def _add_mcq(
        self, result: ChunkResult, chunk: Chunk, i: int, raw: dict[str, object], source: _Source
    ) -> None:
        item_id = f"{chunk.id}:{source.prefix}mcq{i}"
        if (mcq := self._parse(result, item_id, MCQItem, raw)) is None:
            return
        verdict = self.check.check_mcq(
            mcq.question,
            mcq.choices,
            mcq.answer_index,
            mcq.evidence,
            chunk.text,
            chunk.section,
            chunk.document_articles,
        )
        answer = mcq.choices[mcq.answer_index] if 0 <= mcq.answer_index < len(mcq.choices) else ""
        self._keep(
            result,
            chunk,
            item_id,
            verdict,
            SampleKind.MCQ,
            mcq.question,
            answer,
            mcq.choices,
            mcq.answer_index,
            mcq.evidence,
            source,
        )

    def _keep(
        self,
        result: ChunkResult,
        chunk: Chunk,
        item_id: str,
        verdict: Verdict,
        kind: SampleKind,
        instruction: str,
        output: str,
        choices: list[str] | None,
        answer_index: int | None,
        evidence: str,
        source: _Source,
    ) -> None:
        if not verdict.ok:
            failed = {c.name: c.detail for c in verdict.checks if not c.ok}
            detail = json.dumps(
                {"q": instruction[:200], "a": output[:200], **verdict.scores, "failed": failed},
                ensure_ascii=False,
            )
            result.rejections.append((verdict.reason, item_id, detail))
            return
        result.samples.append(
            Sample(
                id=Sample.make_id(chunk.id, kind, instruction, output),
                kind=kind,
                instruction=instruction.strip(),
                output=output.strip(),
                choices=choices,
                answer_index=answer_index,
                provenance=self._provenance(chunk, source),
                scores=dict(verdict.scores),
                evidence=evidence.strip(),
                checks=verdict.checks,
            )
        )
