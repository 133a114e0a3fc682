"""The one-process runner: PDFs in, verified, deduplicated, evolved SFT and DPO datasets out.

Every stage runs in order over the output directory. The run is resumable because the expensive work
is recorded as it finishes (pages per document, teacher results per chunk and per evolution, review
decisions, the dedup index) and the cheap stages are simply replayed; a re-run therefore skips
finished work, picks up new documents and human decisions taken since, and rewrites every report.

Output directory:
    pages.jsonl, chunks.jsonl                   extraction and chunking
    ledger/generate.jsonl, ledger/evolve.jsonl  finished teacher work
    review.sqlite                               the review store (export pending / import decisions)
    dedup-index/                                the persistent near-duplicate index
    samples.jsonl, unique.jsonl, evolved.jsonl, clusters.jsonl, pairs.jsonl
    export/sft.jsonl, export/dpo.jsonl          TRL conversational datasets
    rejections/<stage>.jsonl                    every record that did not survive, with its reason
    funnel.json, report.md, funnel.png          the survival funnel
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field
from tqdm import tqdm

from domainlm.checks.judge import JudgeSettings, build_judge, judge_costs
from domainlm.chunking import ChunkSettings, StructureChunker
from domainlm.dedup import MinhashConfig, NearDuplicateFilter, NearDuplicateIndex
from domainlm.evolution import EvolveSettings, InstructionEvolver
from domainlm.export import export_datasets
from domainlm.extract import DocumentError, ExtractSettings, PdfExtractor
from domainlm.extract.documents import sha256_of
from domainlm.failpoints import failpoint
from domainlm.funnel import Funnel
from domainlm.generation import GenerateSettings, SampleGenerator
from domainlm.generation.coverage import coverage
from domainlm.generation.structure import StructureItems
from domainlm.jsonl import write_rows
from domainlm.ledger import Ledger
from domainlm.preference import PairBuilder, PairSettings
from domainlm.records import Chunk, Page, Sample
from domainlm.report import write_report
from domainlm.review import ReviewGate, ReviewSettings, ReviewStore
from domainlm.teacher import Teacher, TeacherClient, TeacherSettings
from domainlm.teacher.lazy import LazyTeacher
from domainlm.teacher.local import LocalTeacher

T = TypeVar("T")
STAGES = ("extract", "chunk", "generate", "review", "dedup", "evolve", "dedup-evolved", "pairs")


# Where items come from: `structure` (the document's own articles, no LLM), `llm` (the teacher; the
# local tiny vLLM model when no URL is given), `both`, or `auto`: the teacher when one is configured,
# else the structure generator.
Source = Literal["auto", "structure", "llm", "both"]


class RunSettings(BaseModel):
    source: Source = Field("auto", description="structure | llm | both | auto (llm with a teacher URL)")
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    dedup: MinhashConfig = Field(default_factory=MinhashConfig)
    evolve: EvolveSettings = Field(default_factory=EvolveSettings)
    pairs: PairSettings = Field(default_factory=PairSettings)
    system_prompt: str = Field("", description="system turn prepended to every exported conversation")


class RunResult(BaseModel):
    output: Path
    funnel: dict[str, dict[str, Any]]
    counts: dict[str, int]
    seconds: float
    report: Path
    extra: dict[str, Any] = Field(default_factory=dict, description="what the report shows beside the funnel")

    @property
    def left(self) -> dict[str, int]:
        """Work a re-run would retry: records a stage could not finish because the teacher failed
        (`stage: reason` → count). Empty when the run carried everything as far as it was asked."""
        return {
            f"{stage}: {reason}": n
            for stage, row in self.funnel.items()
            for reason, n in row["rejected"].items()
            if reason.startswith("teacher-")
        }

    @property
    def refused_documents(self) -> int:
        """Input documents refused as unusable (not a PDF, encrypted, corrupt, no pages, too many)."""
        rejected = self.funnel.get("extract", {}).get("rejected", {})
        return sum(n for reason, n in rejected.items() if reason != "duplicate-document")


def find_pdfs(paths: Iterable[Path]) -> list[Path]:
    """PDF files named directly, or found (recursively, sorted) in named directories."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() == ".pdf")
        else:
            found.append(p)  # named explicitly: extract decides whether it is a PDF and says why not
    return found


def _intact_pages(path: Path) -> list[Page]:
    """The pages a file holds, leaving out a line an interrupted write tore."""
    if not path.exists():
        return []
    pages = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            with contextlib.suppress(ValueError):  # JSON and validation errors alike
                pages.append(Page.model_validate_json(line))
    return pages


def _doc_id(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except DocumentError:
        return None  # extract reports it, with its reason


class PipelineRun:
    """Runs steps 1-8 over `inputs` into `output`.

    `teacher` overrides `settings.teacher`: give a client (tests use fakes through it). With neither a
    client nor a teacher URL, a local vLLM server with a tiny model is started on first need.
    """

    def __init__(
        self,
        inputs: list[Path],
        output: Path,
        settings: RunSettings | None = None,
        teacher: Teacher | None = None,
        progress: bool = True,
    ) -> None:
        self.inputs, self.out = inputs, output
        self.settings = settings or RunSettings()
        self.progress = progress
        self._teacher = teacher
        self._local_teacher = False
        self._stack = contextlib.ExitStack()
        self.funnel = Funnel(report_dir=output / "rejections")
        self.seconds: dict[str, float] = {}  # per stage, for the report
        self.kept: list[Sample] = []  # the items the run exported, for the report's examples

    # -- helpers ------------------------------------------------------------------------------------

    def _bar(self, items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
        yield from tqdm(
            items, desc=desc, total=total, unit=unit, disable=not self.progress, dynamic_ncols=True
        )

    def _log(self, message: str) -> None:
        if self.progress:
            tqdm.write(message, file=sys.stderr)  # beside the progress bars, out of the data on stdout

    def teacher(self, corpus: Callable[[], Iterable[str]]) -> Teacher:
        """The configured teacher, or a local one started now (only when there is work for it)."""
        if self._teacher is None:
            settings = self.settings.teacher
            if not settings.base_url:
                self._log(
                    "no teacher configured: starting vLLM on CPU with a tiny local model (random weights)"
                )
                local = self._stack.enter_context(
                    LocalTeacher(self.out / "teacher-model", corpus, log_path=self.out / "teacher-vllm.log")
                )
                settings = local.start(settings)
                self._local_teacher = True
            client = TeacherClient(settings)
            client.check_reachable()
            self._teacher = client
        return self._teacher

    def source(self) -> Source:
        """The item source this run uses (`auto` resolved)."""
        if self.settings.source != "auto":
            return self.settings.source
        return "llm" if self._teacher is not None or self.settings.teacher.base_url else "structure"

    # -- stages ------------------------------------------------------------------------------------

    def extract(self) -> list[Page]:
        """Pages of every input document; documents finished by an earlier run are not read again."""
        sources = [str(p) for p in find_pdfs(self.inputs)]
        # Hashed once here; the extractor takes these ids instead of reading every file again.
        ids = {s: d for s in sources if (d := _doc_id(Path(s)))}
        path = self.out / "pages.jsonl"
        wanted = set(ids.values())
        # A document counts as extracted once the extract ledger records it with all its pages; pages of
        # one that an interrupted run was still writing (a torn line, a missing page) are redone.
        ledger = self._ledger("extract")
        kept = [p for p in _intact_pages(path) if p.doc_id in wanted and p.doc_id in ledger]
        have = Counter(p.doc_id for p in kept)
        done = {d for d, n in have.items() if (ledger.get(d) or {}).get("pages") == n}
        kept = [p for p in kept if p.doc_id in done]
        if done:
            self.funnel.saw("extract", len(done))
            self.funnel.passed_on("extract", len(done))
            self._log(f"extract: {len(done)} document(s) already extracted, skipped")
        extractor = PdfExtractor(self.settings.extract)
        write_rows(path, kept)  # what is kept, whole, before new documents are appended
        with path.open("a", encoding="utf-8") as f:

            def commit(pages: list[Page]) -> None:
                f.writelines(p.model_dump_json() + "\n" for p in pages)
                f.flush()
                os.fsync(f.fileno())
                ledger.put(pages[0].doc_id, {"pages": len(pages)})
                failpoint("extract")

            pending: list[Page] = []
            for page in extractor.run(
                sources, self.funnel, progress=self.progress, skip_doc_ids=done, doc_ids=ids
            ):
                if pending and pending[-1].doc_id != page.doc_id:
                    commit(pending)
                    pending = []
                pending.append(page)
                kept.append(page)
            if pending:
                commit(pending)
        return kept

    def chunk(self, pages: list[Page]) -> list[Chunk]:
        chunker = StructureChunker(self.settings.chunk)
        chunks = list(chunker.run(pages, self.funnel))
        write_rows(self.out / "chunks.jsonl", chunks)
        return chunks

    def _lazy_teacher(self, chunks: list[Chunk]) -> LazyTeacher:
        return LazyTeacher(lambda: self.teacher(lambda: (c.text for c in chunks)), self.settings.teacher)

    def _ledger(self, name: str) -> Ledger:
        return self._stack.enter_context(contextlib.closing(Ledger(self.out / "ledger" / f"{name}.jsonl")))

    def generate(self, chunks: list[Chunk]) -> list[Sample]:
        ledger = self._ledger("generate")
        source = self.source()
        teacher = self._lazy_teacher(chunks) if source in ("llm", "both") else None
        structure = None
        if source in ("structure", "both"):
            structure = StructureItems(self.settings.generate.structure)
            structure.prepare(chunks)  # whole documents: distractors come from their other articles
        # Unless set, the judge is on with a configured teacher and off with the embedded tiny one.
        judge = build_judge(self.settings.judge, self.settings.teacher, teacher) if teacher else None
        generator = SampleGenerator(
            teacher, self.settings.generate, cache=ledger, judge=judge, structure=structure
        )
        results = {}
        for r in self._bar(generator.results(chunks), "generate", len(chunks), "chunk"):
            results[r.chunk_id] = r
            failpoint("generate")
        if generator.reused:
            self._log(f"generate: {generator.reused} chunk(s) done in an earlier run, skipped")
        samples: list[Sample] = []
        for chunk in chunks:  # document order, whatever the completion order was
            samples += SampleGenerator.account(results[chunk.id], self.funnel)
        write_rows(self.out / "samples.jsonl", samples)
        return samples

    def review(self, samples: list[Sample]) -> list[Sample]:
        store = self._stack.enter_context(contextlib.closing(ReviewStore(self.out / "review.sqlite")))
        verified = list(ReviewGate(store, self.settings.review).run(samples, self.funnel))
        failpoint("review")
        counts = store.counts()
        if counts.get("pending"):
            self._log(
                f"review: {counts['pending']} item(s) await a human decision: "
                f"`domainlm review export --store {self.out / 'review.sqlite'}`"
            )
        return verified

    def dedup(
        self, samples: list[Sample], name: str, index: NearDuplicateIndex
    ) -> tuple[list[Sample], NearDuplicateFilter]:
        stage = NearDuplicateFilter(index)
        stage.name = name
        unique = list(stage.run(self._bar(samples, name, total=len(samples), unit="item"), self.funnel))
        return unique, stage

    def evolve(self, verified: list[Sample], chunks: list[Chunk]) -> list[Sample]:
        if self.settings.evolve.depth == 0 or not verified:
            return []
        if self.source() == "structure":
            # Evol-Instruct rewrites instructions: that takes an LLM, and this run has none.
            self._log("evolve: skipped, it needs an LLM teacher (--teacher-url, or --source llm)")
            return []
        teacher = self._lazy_teacher(chunks)
        evolver = InstructionEvolver(
            teacher, {c.id: c for c in chunks}, self.settings.evolve, cache=self._ledger("evolve")
        )
        return list(self._bar(evolver.run(verified, self.funnel), "evolve", unit="item"))

    # -- the whole run -------------------------------------------------------------------------------

    def run(self) -> RunResult:
        start = time.monotonic()
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            return self._run(start)
        finally:
            self._stack.close()
            self.funnel.close()

    def _timed(self, stage: str, fn: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            return fn()
        finally:
            self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.monotonic() - started, 1)

    def _run(self, start: float) -> RunResult:
        for stage in STAGES:  # every stage shows in the report, in order, even one that saw nothing
            self.funnel.saw(stage, 0)
        pages = self._timed("extract", self.extract)
        chunks = self._timed("chunk", lambda: self.chunk(pages))
        samples = self._timed("generate", lambda: self.generate(chunks))
        verified = self._timed("review", lambda: self.review(samples))
        index = NearDuplicateIndex(self.settings.dedup, self.out / "dedup-index")
        unique, first = self._timed("dedup", lambda: self.dedup(verified, "dedup", index))
        failpoint("dedup")
        evolved = self._timed("evolve", lambda: self.evolve(unique, chunks))
        evolved_unique, second = self._timed("dedup", lambda: self.dedup(evolved, "dedup-evolved", index))
        index.save()
        final = unique + evolved_unique
        builder = PairBuilder(self.settings.pairs)
        started = time.monotonic()
        pairs = list(builder.run(final, self.funnel))

        write_rows(self.out / "unique.jsonl", unique)
        write_rows(self.out / "evolved.jsonl", evolved_unique)
        write_rows(self.out / "clusters.jsonl", [*first.cluster_rows(), *second.cluster_rows()])
        write_rows(self.out / "pairs.jsonl", pairs)
        failpoint("export")
        exported = export_datasets(
            final,
            pairs,
            self.out / "export",
            dpo_only=builder.dpo_only,
            system_prompt=self.settings.system_prompt,
        )
        self.seconds["pairs+export"] = round(time.monotonic() - started, 1)
        counts = {
            "documents": len({p.doc_id for p in pages}),
            "pages": len(pages),
            "ocr_pages": sum(p.method == "ocr" for p in pages),
            "chunks": len(chunks),
            "samples": len(samples),
            "verified": len(verified),
            "unique": len(unique),
            "evolved": len(evolved_unique),
            "pairs": len(pairs),
            "sft_rows": exported["sft"],
            "dpo_rows": exported["dpo"],
        }
        summary = self.funnel.summary()
        self.funnel.dump(self.out / "funnel.json")
        seconds = time.monotonic() - start
        extra: dict[str, Any] = {
            "counts": counts,
            "seconds": round(seconds, 1),
            "stage_seconds": self.seconds,
        }
        if judged := judge_costs(samples):
            extra["judge"] = judged
        extra["source"] = self.source()
        extra["coverage"] = coverage(chunks, final)
        extra["teachers"] = _per_teacher(samples, final)
        if self.source() in ("structure", "both"):
            extra["teachers"].setdefault("structure", {})["note"] = _structure_note(
                extra["coverage"], len(chunks)
            )
        if self.source() == "structure" and self.settings.evolve.depth:
            extra["evolve_note"] = (
                "Evolution was skipped: Evol-Instruct needs an LLM teacher and none was given."
            )
        if self._local_teacher:
            extra["note"] = (
                "The teacher was the local tiny model with random weights (no --teacher-url given): it proves "
                "the plumbing, and the faithfulness check rightly rejects what it writes. Point --teacher-url "
                "and --teacher-model at a real instruct model for real data."
            )
        report = write_report(summary, self.out, extra)
        self.kept = final
        return RunResult(
            output=self.out, funnel=summary, counts=counts, seconds=seconds, report=report, extra=extra
        )


def _per_teacher(generated: list[Sample], kept: list[Sample]) -> dict[str, dict[str, int]]:
    """Items per source (`structure`, or the teacher's model) and kind: generated, and kept at the end."""
    out: dict[str, dict[str, int]] = {}
    for label, rows in (("generated", generated), ("kept", kept)):
        for s in rows:
            key = f"{s.provenance.teacher_model or '?'}"
            row = out.setdefault(key, {})
            row[f"{label}_{s.kind.value}"] = row.get(f"{label}_{s.kind.value}", 0) + 1
    return out


def _structure_note(cov: dict[str, Any], chunks: int) -> str:
    """What the structure generator could and could not do with the input, for the report."""
    if not cov["articles"]:
        return (f"no articles (제N조) found in {chunks} chunk(s): the structure generator writes items only "
                "from a policy's own articles; an LLM teacher (--teacher-url) can write items from any text")  # fmt: skip
    return (f"items kept for {cov['articles_with_items']} of {cov['articles']} articles"
            + (f"; none for {', '.join(cov['missing'][:5])}" if cov["missing"] else ""))  # fmt: skip
