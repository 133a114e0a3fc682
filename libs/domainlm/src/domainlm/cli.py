"""The `domainlm` command: every stage over JSONL files, the review store, and the one-process run.

Each stage command reads JSONL (or PDFs), writes JSONL atomically, writes every rejected record with its
reason to a rejections directory, and prints the stage's survival counts.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shlex
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from domainlm.funnel import Funnel
from domainlm.jsonl import read_models, read_rows, write_rows
from domainlm.records import Chunk, Page, PreferencePair, Sample

app = typer.Typer(
    help="domainlm: turn policy PDFs into verified, deduplicated, evolved SFT and DPO datasets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# Exit codes automation can trust (`domainlm run`): 0 everything carried as far as asked; 3 incomplete,
# the same command resumes; 4 no usable input at all. 1 and 2 keep their usual meanings (error, usage).
EXIT_INCOMPLETE, EXIT_BAD_INPUT = 3, 4

review_app = typer.Typer(
    help="The human verification store: submit, export pending, import decisions.", no_args_is_help=True
)
app.add_typer(review_app, name="review")

Output = Annotated[Path, typer.Option("--output", "-o", help="JSONL file to write")]
Rejections = Annotated[
    Path | None, typer.Option(help="directory for <stage>.jsonl error reports [default: beside the output]")
]
TeacherUrl = Annotated[
    str,
    typer.Option(
        envvar="DOMAINLM_TEACHER_BASE_URL", help="OpenAI-compatible base URL, e.g. http://vllm:8000/v1"
    ),
]
TeacherModel = Annotated[str, typer.Option(envvar="DOMAINLM_TEACHER_MODEL", help="served model name")]
TeacherKey = Annotated[str, typer.Option(envvar="DOMAINLM_TEACHER_API_KEY", help="bearer token")]
Concurrency = Annotated[int, typer.Option(help="requests in flight against the teacher")]


def _funnel(output: Path, rejections: Path | None) -> Funnel:
    return Funnel(report_dir=rejections or output.parent / "rejections")


def _echo_funnel(summary: dict[str, dict[str, Any]]) -> None:
    """One line per stage: in, out, and the commonest reasons for what did not pass."""
    for stage, row in summary.items():
        top = sorted(row["rejected"].items(), key=lambda kv: -kv[1])[:4]
        reasons = ", ".join(f"{r}={n}" for r, n in top)
        typer.echo(f"  {stage:14} in {row['in']:>6}  out {row['out']:>6}  {reasons}", err=True)


def _finish(funnel: Funnel, output: Path, written: int) -> None:
    funnel.close()
    _echo_funnel(funnel.summary())
    typer.echo(f"wrote {written} rows to {output}", err=True)
    if funnel.report_dir and any(funnel.reasons.values()):
        typer.echo(f"rejections with reasons: {funnel.report_dir}/", err=True)


def _teacher(url: str, model: str, key: str, concurrency: int, **extra: Any):  # -> TeacherClient
    from domainlm.teacher import TeacherClient, TeacherSettings, TeacherUnavailable

    if not url or not model:
        raise typer.BadParameter(
            "give --teacher-url and --teacher-model (or DOMAINLM_TEACHER_BASE_URL/MODEL)"
        )
    client = TeacherClient(
        TeacherSettings(base_url=url, model=model, api_key=key, concurrency=concurrency, **extra)
    )
    try:
        client.check_reachable()
    except TeacherUnavailable as e:
        typer.echo(f"error: {e.reason}: {e.detail}", err=True)
        raise typer.Exit(2) from e
    return client


def _samples(path: Path) -> Iterable[Sample]:
    return read_models(path, Sample)


@app.command()
def extract(
    pdfs: Annotated[list[Path], typer.Argument(help="PDF files or directories of PDFs")],
    output: Output,
    dpi: Annotated[int, typer.Option(help="rasterisation DPI for OCR")] = 300,
    workers: Annotated[int | None, typer.Option(help="OCR processes [default: all cores]")] = None,
    max_pages: Annotated[int, typer.Option(help="documents with more pages are refused")] = 2000,
    rejections: Rejections = None,
) -> None:
    """Step 1: PDFs → one row per page (text layer when sound, else tesseract OCR)."""
    from domainlm.extract import ExtractSettings, PdfExtractor
    from domainlm.runner import find_pdfs

    funnel = _funnel(output, rejections)
    extractor = PdfExtractor(ExtractSettings(dpi=dpi, workers=workers, max_pages=max_pages))
    # Paths are passed on exactly as given: `source` must match what the caller named.
    pages = extractor.run([str(p) for p in find_pdfs(pdfs)], funnel, progress=True)
    _finish(funnel, output, write_rows(output, pages))


@app.command()
def chunk(
    input: Annotated[Path, typer.Option("--input", "-i", help="pages.jsonl")],
    output: Output,
    max_tokens: Annotated[int, typer.Option(help="upper bound per chunk, in tokens")] = 512,
    min_tokens: Annotated[int, typer.Option(help="shorter articles are merged with neighbours")] = 96,
    tokenizer: Annotated[
        Path | None, typer.Option(help="tokenizer directory of the teacher [default: estimate]")
    ] = None,
    rejections: Rejections = None,
) -> None:
    """Step 2: pages → structure-aware chunks (관/조/항/호), token-bounded, never mid-sentence."""
    from domainlm.chunking import ChunkSettings, StructureChunker, TokenCounter

    funnel = _funnel(output, rejections)
    counter = TokenCounter(tokenizer) if tokenizer else None
    chunker = StructureChunker(ChunkSettings(max_tokens=max_tokens, min_tokens=min_tokens), counter)
    _finish(funnel, output, write_rows(output, chunker.run(read_models(input, Page), funnel)))


@app.command()
def generate(
    input: Annotated[Path, typer.Option("--input", "-i", help="chunks.jsonl")],
    output: Output,
    teacher_url: TeacherUrl = "",
    teacher_model: TeacherModel = "",
    teacher_key: TeacherKey = "EMPTY",
    concurrency: Concurrency = 32,
    qa: Annotated[int, typer.Option(help="QA pairs per chunk")] = 3,
    mcq: Annotated[int, typer.Option(help="multiple-choice items per chunk")] = 2,
    max_tokens: Annotated[int, typer.Option(help="completion budget per request")] = 1536,
    rejections: Rejections = None,
) -> None:
    """Step 3: chunks → QA pairs and multiple-choice items from the teacher, each checked for faithfulness."""
    from tqdm import tqdm

    from domainlm.generation import GenerateSettings, SampleGenerator

    teacher = _teacher(teacher_url, teacher_model, teacher_key, concurrency, max_tokens=max_tokens)
    funnel = _funnel(output, rejections)
    chunks = list(read_models(input, Chunk))
    generator = SampleGenerator(teacher, GenerateSettings(qa_per_chunk=qa, mcq_per_chunk=mcq))

    def samples() -> Iterable[Sample]:
        for result in tqdm(generator.results(chunks), total=len(chunks), desc="generate", unit="chunk"):
            yield from generator.account(result, funnel)

    _finish(funnel, output, write_rows(output, samples()))


@app.command()
def check(
    input: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help="JSONL rows: chunk, question, answer, evidence [, choices, answer_index]"
        ),
    ],
    output: Output,
    judge_url: Annotated[
        str, typer.Option(help="OpenAI-compatible base URL of an LLM judge (optional)")
    ] = "",
    judge_model: Annotated[str, typer.Option(help="the judge's served model name")] = "",
    judge_key: Annotated[str, typer.Option(help="bearer token for the judge")] = "EMPTY",
    concurrency: Concurrency = 8,
    morphology: Annotated[
        str, typer.Option(help="predicate reader for the polarity check: kiwi or regex")
    ] = "kiwi",
    rejections: Rejections = None,
) -> None:
    """Audit any QA data with the checks: one verdict row per input row (id, ok, failed checks, reasons)."""
    from pydantic import ValidationError

    from domainlm.checks import AnswerChecks, CheckSettings
    from domainlm.checks.audit import AuditItem, audit
    from domainlm.checks.judge import AnswerJudge

    funnel = _funnel(output, rejections)
    judge = AnswerJudge(_teacher(judge_url, judge_model, judge_key, concurrency)) if judge_url else None

    def items() -> Iterable[AuditItem]:
        for n, row in enumerate(read_rows(input), 1):
            funnel.saw("check")
            try:
                yield AuditItem.model_validate(row)
            except ValidationError as e:
                funnel.reject("check", "invalid-row", str(row.get("id", f"line {n}")), str(e)[:500])

    verdicts = []
    for verdict in audit(items(), AnswerChecks(CheckSettings(morphology=morphology)), judge, concurrency):
        funnel.passed_on("check")
        verdicts.append(verdict)
    failed = sum(not v.ok for v in verdicts)
    written = write_rows(output, verdicts)
    _finish(funnel, output, written)
    typer.echo(f"{written - failed} of {written} items passed every check", err=True)


@app.command()
def dedup(
    input: Annotated[Path, typer.Option("--input", "-i", help="JSONL rows, each with an `id`")],
    output: Output,
    clusters: Annotated[Path | None, typer.Option(help="write near-duplicate clusters here")] = None,
    index: Annotated[
        Path | None, typer.Option(help="persistent index directory: later batches dedup against it")
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(help="fields whose text is compared [default: instruction+output, else text]"),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="character n-gram Jaccard that makes a near-duplicate [default: 0.5]")
    ] = None,
    ngram: Annotated[int | None, typer.Option(help="characters per shingle [default: 4]")] = None,
    rejections: Rejections = None,
) -> None:
    """Step 5: keep one row per near-duplicate cluster (MinHash LSH, verified pairs)."""
    from domainlm.dedup import MinhashConfig, NearDuplicateIndex, cluster_rows, dedup_rows

    funnel = _funnel(output, rejections)
    # Unset options keep the config's defaults, so CLI and runner build interchangeable indexes.
    given = {"threshold": threshold, "ngram": ngram}
    idx = NearDuplicateIndex(MinhashConfig(**{k: v for k, v in given.items() if v is not None}), index)
    found: dict[str, list[dict[str, Any]]] = {}
    written = write_rows(output, dedup_rows(read_rows(input), idx, field, funnel, clusters=found))
    if index is not None:
        idx.save()
    if clusters is not None:
        write_rows(clusters, cluster_rows(found))
    _finish(funnel, output, written)


@app.command()
def evolve(
    input: Annotated[Path, typer.Option("--input", "-i", help="verified samples.jsonl")],
    chunks: Annotated[Path, typer.Option(help="chunks.jsonl the samples came from")],
    output: Output,
    teacher_url: TeacherUrl = "",
    teacher_model: TeacherModel = "",
    teacher_key: TeacherKey = "EMPTY",
    concurrency: Concurrency = 32,
    depth: Annotated[int, typer.Option(help="rounds of evolution")] = 1,
    per_sample: Annotated[int, typer.Option(help="evolutions per sample per round")] = 1,
    op: Annotated[
        list[str] | None, typer.Option(help="deepening, broadening, reasoning, complexifying")
    ] = None,
    rejections: Rejections = None,
) -> None:
    """Step 6: Evol-Instruct; every evolution stays answerable from its source chunk. Dedup the output again."""
    from tqdm import tqdm

    from domainlm.evolution import EVOLUTION_OPS, EvolveSettings, InstructionEvolver

    teacher = _teacher(teacher_url, teacher_model, teacher_key, concurrency)
    funnel = _funnel(output, rejections)
    by_id = {c.id: c for c in read_models(chunks, Chunk)}
    settings = EvolveSettings(ops=op or list(EVOLUTION_OPS), depth=depth, per_sample=per_sample)
    evolver = InstructionEvolver(teacher, by_id, settings)
    samples = [s for s in _samples(input) if s.is_verified]
    _finish(
        funnel, output, write_rows(output, tqdm(evolver.run(samples, funnel), desc="evolve", unit="item"))
    )


@app.command()
def pairs(
    input: Annotated[Path, typer.Option("--input", "-i", help="verified samples.jsonl")],
    output: Output,
    sft_overlap: Annotated[float, typer.Option(help="share of DPO prompts also in the SFT data")] = 0.5,
    per_prompt: Annotated[int, typer.Option(help="pairs per prompt")] = 1,
    rejections: Rejections = None,
    sft_model_url: Annotated[
        str | None, typer.Option(help="also sample rejected answers from the SFT model at this OpenAI URL")
    ] = None,
    sft_model: Annotated[str, typer.Option(help="the SFT model's served name")] = "",
    samples_per_prompt: Annotated[int, typer.Option(help="answers sampled per question")] = 4,
    max_similarity: Annotated[
        float, typer.Option(help="a sampled answer at least this similar to the verified one is not rejected")
    ] = 0.5,
) -> None:
    """Step 7: DPO pairs: chosen = the verified answer, rejected = a distractor written as an answer, or
    an answer sampled from the SFT model that a check finds worse (--sft-model-url)."""
    from domainlm.preference import DistractorSource, PairBuilder, PairSettings, RejectedAnswerSource

    funnel = _funnel(output, rejections)
    sources: list[RejectedAnswerSource] = [DistractorSource()]
    if sft_model_url:
        from domainlm.preference.sampled import ModelSampleSource, SampledSettings
        from domainlm.teacher import TeacherSettings

        model = TeacherSettings(base_url=sft_model_url, model=sft_model)
        knobs = SampledSettings(samples_per_prompt=samples_per_prompt, max_similarity=max_similarity)
        sources.append(ModelSampleSource(model, knobs))
    builder = PairBuilder(PairSettings(sft_overlap=sft_overlap, pairs_per_prompt=per_prompt), sources)
    _finish(funnel, output, write_rows(output, builder.run(_samples(input), funnel)))


@app.command()
def export(
    samples: Annotated[Path, typer.Option(help="verified (and evolved) samples.jsonl")],
    pairs: Annotated[Path, typer.Option(help="pairs.jsonl")],
    output: Annotated[Path, typer.Option("--output", "-o", help="directory for sft.jsonl and dpo.jsonl")],
    system_prompt: Annotated[str, typer.Option(help="system turn for every conversation")] = "",
) -> None:
    """Step 8: TRL conversational datasets (SFT messages; DPO prompt/chosen/rejected) with provenance."""
    from domainlm.export import export_datasets

    pair_rows = list(read_models(pairs, PreferencePair))
    dpo_only = {p.sample_id for p in pair_rows if not p.in_sft}
    counts = export_datasets(_samples(samples), pair_rows, output, dpo_only, system_prompt)
    typer.echo(f"wrote {counts['sft']} SFT rows and {counts['dpo']} DPO rows to {output}", err=True)


@review_app.command("submit")
def review_submit(
    store: Annotated[Path, typer.Option(help="review.sqlite")],
    input: Annotated[Path, typer.Option("--input", "-i", help="generated samples.jsonl")],
    policy: Annotated[str, typer.Option(help="human | auto | sample")] = "auto",
    sample_share: Annotated[float, typer.Option(help="share sent to humans under `sample`")] = 0.1,
) -> None:
    """Put items into the store, routed by policy; auto-routed items are decided by the checks."""
    from domainlm.review import ReviewGate, ReviewPolicy, ReviewSettings, ReviewStore

    with contextlib.closing(ReviewStore(store)) as db:
        gate = ReviewGate(db, ReviewSettings(policy=ReviewPolicy(policy), sample_share=sample_share))
        verified = sum(1 for _ in gate.run(_samples(input), Funnel()))
        typer.echo(f"{verified} verified; store: {json.dumps(db.counts())}", err=True)


@review_app.command("export")
def review_export(
    store: Annotated[Path, typer.Option(help="review.sqlite")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="pending items as JSONL [default: stdout]")
    ] = None,
    state: Annotated[str, typer.Option(help="pending | approved | edited | rejected | verified")] = "pending",
) -> None:
    """Export items for reviewers. Each row is a Sample; answer with decisions (see `review import`)."""
    from domainlm.records import ReviewState
    from domainlm.review import ReviewStore

    states = [ReviewState.APPROVED, ReviewState.EDITED] if state == "verified" else [ReviewState(state)]
    with contextlib.closing(ReviewStore(store)) as db:
        rows = db.items(states)
        if output is None:
            sys.stdout.writelines(s.model_dump_json() + "\n" for s in rows)
        else:
            typer.echo(f"wrote {write_rows(output, rows)} items to {output}", err=True)


@review_app.command("import")
def review_import(
    store: Annotated[Path, typer.Option(help="review.sqlite")],
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help='decisions JSONL: {"id", "action": approve|edit|reject, "reviewer", "note", "instruction", "output"}',
        ),
    ],
) -> None:
    """Apply reviewers' decisions. A bad row is reported and skipped; the rest are applied."""
    from pydantic import ValidationError

    from domainlm.review import Decision, ReviewStore

    applied, failed = 0, 0
    with contextlib.closing(ReviewStore(store)) as db:
        for lineno, row in enumerate(read_rows(input), 1):
            try:
                db.decide(Decision.model_validate(row))
                applied += 1
            except (ValidationError, KeyError, ValueError) as e:
                failed += 1
                typer.echo(f"{input}:{lineno}: skipped: {e}", err=True)
        typer.echo(
            f"applied {applied} decisions, skipped {failed}; store: {json.dumps(db.counts())}", err=True
        )
    if failed:
        raise typer.Exit(1)


@review_app.command("status")
def review_status(store: Annotated[Path, typer.Option(help="review.sqlite")]) -> None:
    """Counts of items per review state."""
    from domainlm.review import ReviewStore

    with contextlib.closing(ReviewStore(store)) as db:
        typer.echo(json.dumps(db.counts(), indent=2))


@app.command()
def run(
    input: Annotated[list[Path], typer.Option("--input", "-i", help="PDF files or directories of PDFs")],
    output: Annotated[Path, typer.Option("--output", "-o", help="run directory (re-running resumes it)")],
    teacher_url: TeacherUrl = "",
    teacher_model: TeacherModel = "",
    teacher_key: TeacherKey = "EMPTY",
    concurrency: Concurrency = 32,
    policy: Annotated[str, typer.Option(help="review policy: human | auto | sample")] = "auto",
    sample_share: Annotated[float, typer.Option(help="share sent to humans under `sample`")] = 0.1,
    evolve_depth: Annotated[int, typer.Option(help="rounds of Evol-Instruct (0 = none)")] = 1,
    sft_overlap: Annotated[float, typer.Option(help="share of DPO prompts also in the SFT data")] = 0.5,
    max_tokens: Annotated[int, typer.Option(help="chunk size bound, in tokens")] = 512,
    judge: Annotated[
        bool | None,
        typer.Option(
            "--judge/--no-judge",
            help="ask an LLM judge about every item (the teacher, or --judge-url/--judge-model); "
            "default: on with --teacher-url or --judge-url, off with the local tiny teacher",
            show_default=False,
        ),
    ] = None,
    judge_url: Annotated[str, typer.Option(help="a judge model of its own (OpenAI-compatible)")] = "",
    judge_model: Annotated[str, typer.Option(help="the judge's served model name")] = "",
    source: Annotated[
        str,
        typer.Option(
            help="where items come from: structure (the document's own articles, no LLM), llm (the "
            "teacher; a tiny local vLLM model when no --teacher-url), both, or auto (llm with a "
            "--teacher-url, else structure)"
        ),
    ] = "auto",
    until: Annotated[str, typer.Option(help="last step: export | publish | serve")] = "serve",
    no_train: Annotated[
        bool, typer.Option("--no-train", help="stop after the datasets (= --until export)")
    ] = False,
    base_model: Annotated[
        Path | None, typer.Option(help="base model directory [default: a tiny model built from the input]")
    ] = None,
    base_candidates: Annotated[
        str, typer.Option(help="comma-separated base model dirs: the best on the held-out questions is used")
    ] = "",
    eval_set: Annotated[
        Path | None,
        typer.Option(help="external questions to evaluate on too (JSON list or JSONL of question/answer)"),
    ] = None,
    name: Annotated[
        str, typer.Option(help="the public model name in OUTPUT/registry and the server")
    ] = "domainlm",
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="leave the published model's OpenAI-compatible endpoint running (Ctrl-C stops it)"
        ),
    ] = False,
) -> None:
    """The whole loop in one process: PDFs → items (checked, reviewed, deduplicated, evolved) → SFT and DPO
    datasets → base model → SFT → DPO → evaluation → a published version in OUTPUT/registry → served by
    vLLM and asked held-out questions. With no teacher, items come from the documents' own structure and
    the base model is a tiny one built locally (no model hub)."""
    from domainlm.checks.judge import JudgeSettings
    from domainlm.chunking import ChunkSettings
    from domainlm.evolution import EvolveSettings
    from domainlm.preference import PairSettings
    from domainlm.review import ReviewPolicy, ReviewSettings
    from domainlm.runner import RunSettings
    from domainlm.teacher import TeacherSettings
    from domainlm.trainloop import LoopSettings as LoopOptions

    if bool(teacher_url) != bool(teacher_model):
        raise typer.BadParameter("give both --teacher-url and --teacher-model, or neither (a local teacher)")
    if source not in ("auto", "structure", "llm", "both"):
        raise typer.BadParameter("--source is one of auto, structure, llm, both")
    if until not in ("export", "publish", "serve"):
        raise typer.BadParameter("--until is one of export, publish, serve")
    if base_model is not None and base_candidates:
        raise typer.BadParameter("give --base-model or --base-candidates, not both")
    if eval_set is not None and not eval_set.is_file():
        raise typer.BadParameter(f"--eval-set {eval_set}: no such file")
    settings = RunSettings(
        source=source,
        chunk=ChunkSettings(max_tokens=max_tokens),
        teacher=TeacherSettings(
            base_url=teacher_url, model=teacher_model, api_key=teacher_key, concurrency=concurrency
        ),
        review=ReviewSettings(policy=ReviewPolicy(policy), sample_share=sample_share),
        evolve=EvolveSettings(depth=evolve_depth),
        pairs=PairSettings(sft_overlap=sft_overlap),
        judge=JudgeSettings(enabled=judge, base_url=judge_url, model=judge_model),
    )
    again = shlex.join(["domainlm", "run", *sys.argv[2:]])
    with _no_space_is_an_error(again, output):
        _run_and_train(input, output, settings, again, no_train, until, serve, LoopOptions(
            base_model=base_model, base_candidates=[c for c in base_candidates.split(",") if c.strip()],
            eval_set=eval_set, name=name, serve=(until == "serve" and not no_train),
        ))  # fmt: skip


@contextlib.contextmanager
def _no_space_is_an_error(again: str, output: Path) -> Iterator[None]:
    """A full disk ends the run with a clear message: every file is written whole or not at all, so what
    was finished before is intact and the same command resumes once there is space."""
    try:
        yield
        return
    except Exception as e:
        if (full := _no_space(e, output)) is None:
            raise
    # The failed work's progress bars (a trainer's) would print once more when closed at exit: closed
    # first, so the message is the last line.
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
    sys.stderr.flush()
    typer.echo(f"error: no space left on device writing {full}; files written before are intact: "
               f"free space and `{again}` resumes", err=True)  # fmt: skip
    raise typer.Exit(1)


def _no_space(error: BaseException, output: Path) -> str | None:
    """What could not be written, when the error came from a full disk; else None. Libraries report it
    their own way (torch.save: "unexpected pos …"), so a failure while the output's disk is full counts
    too."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return str(seen.filename or "a file")
        if "No space left on device" in str(seen):
            return "a file"
        seen = seen.__cause__ or seen.__context__
    with contextlib.suppress(OSError):
        if shutil.disk_usage(output if output.exists() else output.parent).free < 1 << 20:
            return f"under {output}"
    return None


def _run_and_train(
    input: list[Path], output: Path, settings: Any, again: str, no_train: bool, until: str, serve: bool,
    loop: Any,
) -> None:  # fmt: skip
    """The data half, its exit codes, then the training half and the summary."""
    from domainlm.runner import PipelineRun
    from domainlm.teacher import TeacherUnavailable

    try:
        result = PipelineRun(input, output, settings).run()
    except TeacherUnavailable as e:
        typer.echo(f"error: {e.reason}: {e.detail}", err=True)
        typer.echo(
            f"incomplete: the teacher is needed; work done so far is kept: `{again}` resumes", err=True
        )
        raise typer.Exit(EXIT_INCOMPLETE) from e
    _echo_funnel(result.funnel)
    typer.echo(json.dumps(result.counts), err=True)
    if result.left:
        left = ", ".join(f"{k}: {n}" for k, n in result.left.items())
        typer.echo(f"incomplete after {result.seconds:.0f}s: not done for a passing reason ({left}); "
                   f"`{again}` resumes; report: {result.report}", err=True)  # fmt: skip
        raise typer.Exit(EXIT_INCOMPLETE)
    if result.counts["documents"] == 0 and result.refused_documents:
        typer.echo(f"no usable input: {result.refused_documents} document(s) refused, with reasons in "
                   f"{result.output / 'rejections' / 'extract.jsonl'}", err=True)  # fmt: skip
        raise typer.Exit(EXIT_BAD_INPUT)
    from domainlm.wholeloop import finish_run

    finish_run(result, "export" if no_train else until, loop, keep_serving=serve)


@app.command("tiny-model")
def tiny_model(
    output: Annotated[Path, typer.Option("--output", "-o", help="model directory to write")],
    corpus: Annotated[
        list[Path] | None, typer.Option(help="text or pages.jsonl files to train the tokenizer on")
    ] = None,
    vocab: Annotated[int, typer.Option(help="tokenizer vocabulary size")] = 4000,
) -> None:
    """Build a tiny Llama locally (random weights, real tokenizer and chat template) for tests and demos."""
    from domainlm.tinymodel import build_tiny_model

    def texts() -> Iterable[str]:
        for path in corpus or []:
            if path.suffix == ".jsonl":
                yield from (str(r.get("text", "")) for r in read_rows(path))
            else:
                yield path.read_text(encoding="utf-8")

    build_tiny_model(output, texts(), vocab_size=vocab)
    typer.echo(f"wrote {output}", err=True)


train_app = typer.Typer(
    help="Fine-tune on the factory's exports with TRL: SFT, then DPO from the SFT checkpoint.",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")

ModelDir = Annotated[Path, typer.Option("--model", help="model directory to start from")]
TrainOutput = Annotated[
    Path, typer.Option("--output", "-o", help="directory for checkpoints/ and the final servable model")
]
Epochs = Annotated[float, typer.Option(help="passes over the data")]
MaxSteps = Annotated[int, typer.Option(help="stop after this many optimiser steps (-1: epochs decide)")]
MaxLength = Annotated[int, typer.Option(help="tokens per row (per packed block with --packing)")]
BatchSize = Annotated[int, typer.Option(help="rows per device per step")]
GradAccum = Annotated[int, typer.Option(help="gradient accumulation steps")]
SaveSteps = Annotated[int, typer.Option(help="checkpoint every N optimiser steps")]
DeepSpeed = Annotated[
    Path | None,
    typer.Option(
        help="DeepSpeed JSON config, or 'zero3' for the packaged ZeRO-3 config (needs domainlm[deepspeed])"
    ),
]
Resume = Annotated[
    bool | None,
    typer.Option(
        "--resume/--no-resume",
        help="resume from the last checkpoint (default: resume when the output holds checkpoints)",
        show_default=False,
    ),
]
Precision = Annotated[
    str | None, typer.Option(help="bf16 or fp32 [default: bf16 on a GPU that has it, else fp32]")
]


def _deepspeed(value: Path | None) -> Path | None:
    from domainlm.training import deepspeed_config

    if value is not None and not value.exists() and value.suffix != ".json":
        return deepspeed_config(str(value))
    return value


def _echo_result(result: Any) -> None:
    typer.echo(
        f"{result.method}: {result.rows} rows, {result.global_step} steps in {result.seconds:.0f}s "
        f"({result.precision}); servable model in {result.output}",
        err=True,
    )


@train_app.command("sft")
def train_sft_command(
    model: ModelDir,
    data: Annotated[Path, typer.Option(help="sft.jsonl from `domainlm export`")],
    output: TrainOutput,
    epochs: Epochs = 3.0,
    lr: Annotated[float, typer.Option(help="learning rate")] = 2e-5,
    max_length: MaxLength = 2048,
    batch_size: BatchSize = 4,
    grad_accum: GradAccum = 1,
    max_steps: MaxSteps = -1,
    save_steps: SaveSteps = 200,
    packing: Annotated[bool, typer.Option(help="pack rows into --max-length blocks (padding-free)")] = False,
    deepspeed: DeepSpeed = None,
    resume: Resume = None,
    precision: Precision = None,
    gradient_checkpointing: Annotated[
        bool, typer.Option(help="recompute activations to save memory")
    ] = False,
) -> None:
    """Full fine-tuning with TRL's SFTTrainer; loss on assistant tokens only."""
    from domainlm.training import SftSettings
    from domainlm.training.sft import train_sft

    settings = SftSettings(
        model=model, data=data, output=output, epochs=epochs, lr=lr, max_length=max_length,
        batch_size=batch_size, grad_accum=grad_accum, max_steps=max_steps, save_steps=save_steps,
        packing=packing, deepspeed=_deepspeed(deepspeed), resume=resume,
        precision=precision, gradient_checkpointing=gradient_checkpointing,
    )  # fmt: skip
    _echo_result(train_sft(settings))


@train_app.command("dpo")
def train_dpo_command(
    model: Annotated[Path, typer.Option("--model", help="the SFT model directory")],
    data: Annotated[Path, typer.Option(help="dpo.jsonl from `domainlm export`")],
    output: TrainOutput,
    epochs: Epochs = 1.0,
    lr: Annotated[float, typer.Option(help="learning rate")] = 5e-7,
    beta: Annotated[
        float, typer.Option(help="DPO beta: how far the policy may move from the reference")
    ] = 0.1,
    max_length: MaxLength = 2048,
    batch_size: BatchSize = 4,
    grad_accum: GradAccum = 1,
    max_steps: MaxSteps = -1,
    save_steps: SaveSteps = 200,
    precompute_ref_log_probs: Annotated[
        bool, typer.Option(help="score the reference once up front instead of keeping it in memory")
    ] = True,
    deepspeed: DeepSpeed = None,
    resume: Resume = None,
    precision: Precision = None,
    gradient_checkpointing: Annotated[
        bool, typer.Option(help="recompute activations to save memory")
    ] = False,
) -> None:
    """DPO with TRL's DPOTrainer from the SFT checkpoint (conversational prompt/chosen/rejected)."""
    from domainlm.training import DpoSettings
    from domainlm.training.dpo import train_dpo

    settings = DpoSettings(
        model=model, data=data, output=output, epochs=epochs, lr=lr, beta=beta, max_length=max_length,
        batch_size=batch_size, grad_accum=grad_accum, max_steps=max_steps, save_steps=save_steps,
        precompute_ref_log_probs=precompute_ref_log_probs, deepspeed=_deepspeed(deepspeed),
        resume=resume, precision=precision, gradient_checkpointing=gradient_checkpointing,
    )  # fmt: skip
    _echo_result(train_dpo(settings))


@app.command()
def serve(
    model: Annotated[Path, typer.Option("--model", help="a servable model directory")],
    port: Annotated[int, typer.Option(help="port for the OpenAI-compatible API")] = 8000,
    name: Annotated[str, typer.Option(help="the served model name clients ask for")] = "domainlm",
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    max_model_len: Annotated[int, typer.Option(help="context length")] = 4096,
    kv_cache_gib: Annotated[int, typer.Option(help="KV cache size on CPU, GiB")] = 1,
    enforce_eager: Annotated[bool, typer.Option(help="skip torch.compile (faster start)")] = False,
) -> None:
    """The real vLLM OpenAI-compatible server on MODEL, until Ctrl-C or SIGTERM."""
    from domainlm.serve import serve as run_server
    from domainlm.training.servable import NotServable

    try:
        run_server(model, name, port, host=host, max_model_len=max_model_len, kv_cache_gib=kv_cache_gib,
                   enforce_eager=enforce_eager)  # fmt: skip
    except NotServable as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


EvalFile = Annotated[
    Path, typer.Option("--eval", help="held-out questions: SFT rows ({messages}) or Sample rows (JSONL)")
]
Generate = Annotated[
    bool, typer.Option(help="also answer greedily and score character F1 / ROUGE-L against the reference")
]
MaxNewTokens = Annotated[int, typer.Option(help="tokens per greedy answer with --generate")]
MetricOpt = Annotated[
    str,
    typer.Option(
        "--metric",
        help="score to rank/gate on, higher is better: logprob_per_char (tokenizer-independent), "
        "logprob_per_token, or with --generate char_f1, rouge_l",
    ),
]


@train_app.command("split")
def train_split_command(
    data: Annotated[Path, typer.Option(help="sft.jsonl from `domainlm export`")],
    train_out: Annotated[Path, typer.Option("--train-out", help="JSONL for the rows kept for training")],
    held_out: Annotated[Path, typer.Option("--held-out", help="JSONL for the held-out rows")],
    held_out_share: Annotated[
        float, typer.Option("--held-out-share", help="share of rows held out (whole groups)")
    ] = 0.1,
    by: Annotated[str, typer.Option(help="keep together: 'section' (doc and section) or 'doc'")] = "section",
    seed: Annotated[str, typer.Option(help="fixes which groups are held out")] = "domainlm-held-out",
    dpo: Annotated[
        Path | None, typer.Option(help="dpo.jsonl to filter too: rows on held-out groups are left out")
    ] = None,
    dpo_out: Annotated[Path | None, typer.Option(help="where the filtered DPO rows go")] = None,
) -> None:
    """Split the SFT export by provenance: no document (or section) both trains and evaluates."""
    from domainlm.training.evaluate import GroupBy, held_out_groups, provenance_group

    if by not in ("section", "doc"):
        raise typer.BadParameter("--by is 'section' or 'doc'")
    if dpo is not None and dpo_out is None:
        raise typer.BadParameter("--dpo needs --dpo-out")
    group_by = cast(GroupBy, by)
    rows = list(read_rows(data))
    groups = held_out_groups(rows, held_out_share, group_by, seed)
    held = [provenance_group(r, group_by) in groups for r in rows]
    n_train = write_rows(train_out, (r for r, h in zip(rows, held, strict=True) if not h))
    n_held = write_rows(held_out, (r for r, h in zip(rows, held, strict=True) if h))
    typer.echo(f"{n_train} rows to {train_out}, {n_held} rows ({len(groups)} groups) to {held_out}", err=True)
    if dpo is not None and dpo_out is not None:
        drows = list(read_rows(dpo))
        kept = write_rows(dpo_out, (r for r in drows if provenance_group(r, group_by) not in groups))
        typer.echo(f"{kept} of {len(drows)} DPO rows to {dpo_out} (held-out groups left out)", err=True)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", help="model directory")],
    eval_file: EvalFile,
    generate: Generate = False,
    max_new_tokens: MaxNewTokens = 128,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="report file [default: MODEL/eval.json]")
    ] = None,
) -> None:
    """Score a model on held-out domain QA: reference log-likelihood (perplexity), optionally greedy
    answers' character F1 / ROUGE-L; the report goes to MODEL/eval.json."""
    from domainlm.training.evaluate import evaluate_model

    report = evaluate_model(model, eval_file, generate, max_new_tokens)
    path = report.save(output or model)
    for k, v in report.metrics.items():
        typer.echo(f"  {k:18} {v:.4f}")
    typer.echo(f"{report.questions} questions in {report.seconds:.0f}s; report in {path}", err=True)


@app.command("select-base")
def select_base_command(
    eval_file: EvalFile,
    candidates: Annotated[
        str | None,
        typer.Option(help="comma-separated model dirs [default: $DOMAINLM_BASE_CANDIDATES; typically three]"),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSON report")] = None,
    metric: MetricOpt = "logprob_per_char",
    generate: Generate = False,
    max_new_tokens: MaxNewTokens = 128,
) -> None:
    """Score each candidate base model on held-out domain QA and pick the best."""
    from domainlm.training.select import DEFAULT_CANDIDATES, candidates_from, save_selection, select_base

    try:
        names = candidates_from(candidates)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    if len(names) < DEFAULT_CANDIDATES:
        typer.echo(f"note: {len(names)} candidate(s); {DEFAULT_CANDIDATES} are usually compared", err=True)
    selection = select_base(names, eval_file, metric, generate, max_new_tokens)
    typer.echo(selection.table())
    if output:
        typer.echo(f"report in {save_selection(selection, output)}", err=True)
    best = selection.best
    if best is None:
        typer.echo("error: no candidate could be scored", err=True)
        raise typer.Exit(1)
    typer.echo(f"best: {best.name}")


@app.command()
def publish(
    model: Annotated[Path, typer.Option("--model", help="the trained, servable model directory")],
    registry: Annotated[Path, typer.Option(help="registry directory")],
    name: Annotated[str, typer.Option(help="the public model name")],
    eval_file: EvalFile,
    baseline: Annotated[
        list[Path] | None,
        typer.Option(help="model(s) to beat [default: the base in MODEL/train_summary.json]"),
    ] = None,
    metric: MetricOpt = "logprob_per_char",
    min_gain: Annotated[float, typer.Option(help="margin the new score must exceed each other by")] = 0.0,
    force: Annotated[bool, typer.Option(help="publish even when the gate says no")] = False,
    generate: Generate = False,
    max_new_tokens: MaxNewTokens = 128,
    restart_serving: Annotated[
        Path | None,
        typer.Option(help="PIDFILE of the local vLLM server to restart on the new version (embedded mode)"),
    ] = None,
    port: Annotated[int, typer.Option(help="port for --restart-serving")] = 8000,
) -> None:
    """Publish MODEL as the next immutable version REGISTRY/NAME/vNNNN when it beats its base and the
    published model on the held-out score; then move the `current` pointer (exit 1 when refused)."""
    from domainlm.training.publish import PublishRefused, RegistryError, serve_current
    from domainlm.training.publish import publish as do_publish
    from domainlm.training.servable import NotServable

    try:
        result = do_publish(
            model, registry, name, eval_file, baseline or [], metric, min_gain, force, generate,
            max_new_tokens, log=lambda m: typer.echo(m, err=True),
        )  # fmt: skip
    except PublishRefused as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from e
    except (NotServable, RegistryError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    for line in result.gate.lines():
        typer.echo(f"  {line}", err=True)
    typer.echo(f"published {name} {result.version}{' (forced)' if result.forced else ''}: {result.path}")
    if restart_serving is not None:
        server = serve_current(registry, name, port, pidfile=restart_serving)
        typer.echo(f"serving {name} {result.version} at {server.base_url} (pid in {restart_serving})")


@app.command()
def rollback(
    registry: Annotated[Path, typer.Option(help="registry directory")],
    name: Annotated[str, typer.Option(help="the public model name")],
    to: Annotated[str | None, typer.Option(help="version, e.g. v0002 [default: the previous one]")] = None,
    restart_serving: Annotated[
        Path | None, typer.Option(help="PIDFILE of the local vLLM server to restart (embedded mode)")
    ] = None,
    port: Annotated[int, typer.Option(help="port for --restart-serving")] = 8000,
) -> None:
    """Move NAME's `current` pointer back to the previous version (or --to)."""
    from domainlm.training.publish import Registry, RegistryError, serve_current

    try:
        pointer = Registry(registry, name).rollback(to)
    except RegistryError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(f"{name}: current {pointer['previous']} -> {pointer['version']}")
    if restart_serving is not None:
        server = serve_current(registry, name, port, pidfile=restart_serving)
        typer.echo(f"serving {name} {pointer['version']} at {server.base_url}")


def _add_service_commands() -> None:
    """Commands that talk to the services come with the chassis; this library never imports Kafka."""
    try:
        from domainlm_chassis.stackcli import stack_app
        from domainlm_chassis.submit import submit
    except ImportError:  # the chassis is not installed: the one-process commands still work
        return
    app.command()(submit)
    app.add_typer(stack_app, name="stack")
    try:  # the review page comes with the review service's package
        from domainlm_review.web.serve import serve
    except ImportError:
        return
    review_app.command("serve")(serve)


_add_service_commands()

if __name__ == "__main__":
    app()
