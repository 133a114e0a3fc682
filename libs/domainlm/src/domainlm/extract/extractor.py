"""The extract stage: PDFs in, one Page per page out, documents and pages in input order.

Work is spread two ways. Text layers are read by pdftotext subprocesses started from a few threads
(they spend their time waiting for the subprocess). Pages that need OCR go to a pool of worker
processes, one per core, each running one single-threaded tesseract at a time. Several documents are
in flight at once, so the pool stays busy across document boundaries, but pages are handed out
strictly in order: a document is yielded once all of its pages are done.

A worker that dies (a crash, the OOM killer) takes the pages queued with it: they are sent again,
once each, to a fresh pool; a page that fails twice is rejected alone.

Funnel accounting, in documents: `saw` once per document taken in (a document skipped because
`skip_doc_ids` holds it is not taken in), `reject` once per refused document (DocumentError reasons,
record id = the path as given), `passed_on` once per document that yields at least one page. Pages
whose OCR fails are rejected one by one ("ocr-failed", record id "<path>#p<page>") and are counted
among the rejections too; their document still passes on if any of its other pages came out.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import pypdfium2 as pdfium
from tqdm import tqdm

from domainlm.extract.documents import Document, DocumentError, open_document, sha256_of
from domainlm.extract.ocr import OCR_ENV, OcrError, OcrOptions, OcrResult, ocr_image, render_page
from domainlm.extract.settings import ExtractSettings
from domainlm.extract.tessdata import without_word_lists
from domainlm.extract.textlayer import SoundnessRules, TextLayer, flaw, read_text_layer
from domainlm.funnel import Funnel
from domainlm.records import Page

_LOOKAHEAD_PER_WORKER = 8  # pages admitted ahead of the one being yielded, per worker


# --- worker side -----------------------------------------------------------------------------------

_open_pdf: tuple[str, pdfium.PdfDocument] | None = None


def _init_worker() -> None:
    os.environ.update(OCR_ENV)
    # Ctrl-C is the parent's to handle: it cancels what is queued; a worker finishes its page.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _document(path: str) -> pdfium.PdfDocument:
    # Consecutive pages of a document usually land on the same worker; keep the last one open.
    global _open_pdf
    if _open_pdf is None or _open_pdf[0] != path:
        if _open_pdf is not None:
            _open_pdf[1].close()
            _open_pdf = None
        _open_pdf = (path, pdfium.PdfDocument(path))
    return _open_pdf[1]


def ocr_pdf_page(path: str, index: int, options: OcrOptions) -> OcrResult:
    """Renders and OCRs one page (0-based index) of a PDF; runs in a worker process."""
    started = time.perf_counter()
    try:
        grey = render_page(_document(path), index, options.dpi)
    except (pdfium.PdfiumError, OSError, ValueError) as e:
        raise OcrError(f"could not render the page: {e}") from e
    result = ocr_image(grey, options)
    return replace(result, seconds=round(time.perf_counter() - started, 4))


# --- parent side -----------------------------------------------------------------------------------


@dataclass
class _Job:
    doc: Document
    text: Future[TextLayer]
    planned: bool = False
    pages: list[Page | None] = field(default_factory=list)
    ocr: dict[int, Future[OcrResult]] = field(default_factory=dict)
    pools: dict[int, ProcessPoolExecutor] = field(default_factory=dict)  # where each page was sent
    retried: set[int] = field(default_factory=set)
    flaws: dict[int, str] = field(default_factory=dict)

    def outstanding(self) -> list[Future[object]]:
        if not self.planned:
            return [cast("Future[object]", self.text)]
        return [cast("Future[object]", f) for f in self.ocr.values() if not f.done()]

    def ready(self) -> bool:
        return self.planned and all(f.done() for f in self.ocr.values())


class PdfExtractor:
    """PDF paths → Page rows: the text layer where it is sound, tesseract OCR where it is not."""

    name = "extract"

    def __init__(self, settings: ExtractSettings | None = None) -> None:
        self.settings = settings or ExtractSettings()
        self.workers = self.settings.workers or os.cpu_count() or 1
        self.rules: SoundnessRules = self.settings.soundness()
        self._options: OcrOptions | None = None
        self._pool: ProcessPoolExecutor | None = None

    # The pool and the language data are made on the first page that needs OCR: a batch of sound
    # text-layer PDFs never starts a worker process.
    def _ocr_options(self) -> OcrOptions:
        if self._options is None:
            plain = [
                lang for lang in self.settings.languages.split("+")[1:] if lang in self.settings.no_word_list
            ]
            tessdata = without_word_lists(plain, self.settings.tessdata_cache) if plain else None
            self._options = self.settings.ocr_options(tessdata)
        return self._options

    def _submit_ocr(self, job: _Job, index: int) -> None:
        options = self._ocr_options()
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                # spawn, not fork: the parent has threads (pdftotext readers, tqdm) whose locks a
                # forked child could inherit held.
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
            )
        job.pools[index] = self._pool
        try:
            job.ocr[index] = self._pool.submit(ocr_pdf_page, str(job.doc.path), index, options)
        except Exception as e:  # a pool that broke meanwhile: the page fails now, and may be retried
            failed: Future[OcrResult] = Future()
            failed.set_exception(e)
            job.ocr[index] = failed

    def _retry_broken(self, job: _Job) -> None:
        """Sends again, once, the pages lost with a worker that died.

        A crashed worker (a segfault, the OOM killer) breaks its whole pool and every page queued
        on it fails, though at most one of them caused it. Each gets one more try on a fresh pool.
        """
        broken = [
            index
            for index, future in job.ocr.items()
            if index not in job.retried
            and future.done()
            and not future.cancelled()
            and isinstance(future.exception(), BrokenProcessPool)
        ]
        for index in broken:
            self._retire(job.pools.get(index))
            job.retried.add(index)
            self._submit_ocr(job, index)

    def _retire(self, pool: ProcessPoolExecutor | None) -> None:
        """Drops the pool a page failed on, unless a fresh one has already replaced it."""
        if pool is not None and pool is self._pool:
            self._drop_pool()

    def _drop_pool(self, wait: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def run(
        self,
        paths: Iterable[str],
        funnel: Funnel,
        progress: bool = False,
        skip_doc_ids: set[str] | None = None,
        doc_ids: Mapping[str, str] | None = None,
    ) -> Iterator[Page]:
        """Pages of every readable document among `paths`, in order; see the module doc for counts.

        Documents whose sha256 is in `skip_doc_ids` (done by an earlier, resumed run) are passed
        over without being counted or read beyond their hash. `doc_ids` (path as given -> sha256)
        holds hashes the caller has already computed, so that no file is hashed twice.
        """
        text_threads = max(1, self.workers // 2)
        bar = tqdm(total=0, unit="page", desc=self.name, disable=not progress)
        try:
            with ThreadPoolExecutor(max_workers=text_threads, thread_name_prefix="pdftotext") as threads:
                yield from self._run(
                    paths, funnel, bar, skip_doc_ids or set(), doc_ids or {}, threads, text_threads
                )
            self._drop_pool(wait=True)
        finally:
            self._drop_pool()
            bar.close()

    def _run(
        self,
        paths: Iterable[str],
        funnel: Funnel,
        bar: tqdm[None],
        skip: set[str],
        known: Mapping[str, str],
        threads: ThreadPoolExecutor,
        text_threads: int,
    ) -> Iterator[Page]:
        seen: dict[str, str] = {}
        window: deque[_Job] = deque()
        sources = iter(paths)
        exhausted = False
        lookahead = self.workers * _LOOKAHEAD_PER_WORKER
        processes_per_doc = max(1, self.workers // text_threads)
        while True:
            while not exhausted and sum(job.doc.pages for job in window) < lookahead:
                source = next(sources, None)
                if source is None:
                    exhausted = True
                    break
                job = self._admit(os.fspath(source), funnel, seen, skip, known, threads, processes_per_doc)
                if job is not None:
                    window.append(job)
                    bar.total += job.doc.pages
                    bar.refresh()
            if not window:
                return
            for job in window:
                if not job.planned and job.text.done():
                    self._plan(job)
                if job.planned:
                    self._retry_broken(job)
            if window[0].ready():
                yield from self._finish(window.popleft(), funnel, bar)
                continue
            wait([f for job in window for f in job.outstanding()], return_when=FIRST_COMPLETED)

    def _admit(
        self,
        source: str,
        funnel: Funnel,
        seen: dict[str, str],
        skip: set[str],
        known: Mapping[str, str],
        threads: ThreadPoolExecutor,
        processes: int,
    ) -> _Job | None:
        try:
            doc_id = known.get(source) or sha256_of(Path(source))
        except DocumentError as e:
            funnel.saw(self.name)
            funnel.reject(self.name, e.reason, record_id=source, detail=e.detail)
            return None
        if doc_id in skip:
            return None
        funnel.saw(self.name)
        if doc_id in seen:
            funnel.reject(
                self.name, "duplicate-document", record_id=source, detail=f"same bytes as {seen[doc_id]}"
            )
            return None
        seen[doc_id] = source
        try:
            doc = open_document(source, self.settings.max_pages, doc_id=doc_id)
        except DocumentError as e:
            funnel.reject(self.name, e.reason, record_id=source, detail=e.detail)
            return None
        text = threads.submit(read_text_layer, doc.path, doc.pages, processes)
        return _Job(doc=doc, text=text)

    def _plan(self, job: _Job) -> None:
        doc = job.doc
        try:
            layer = job.text.result()
        except Exception:  # a failure to read the layer is a reason to OCR, not to lose the pages
            layer = TextLayer(pages=[None] * doc.pages, seconds=0.0)
        per_page = round(layer.seconds / max(1, doc.pages), 5)
        job.pages = [None] * doc.pages
        for index, text in enumerate(layer.pages):
            problem = flaw(text, self.rules)
            if problem is None:
                job.pages[index] = Page(
                    source=doc.source,
                    doc_id=doc.doc_id,
                    page=index + 1,
                    text=text or "",
                    method="text-layer",
                    reason="text-layer",
                    seconds=per_page,
                )
            else:
                job.flaws[index] = problem
                self._submit_ocr(job, index)
        job.planned = True

    def _finish(self, job: _Job, funnel: Funnel, bar: tqdm[None]) -> Iterator[Page]:
        doc = job.doc
        passed = False
        for index, page in enumerate(job.pages):
            if page is None:
                try:
                    result = job.ocr[index].result()
                except Exception as e:  # tesseract, rendering, or a worker that died twice: that page only
                    if isinstance(e, BrokenProcessPool):
                        self._retire(job.pools.get(index))
                    funnel.reject(
                        self.name,
                        "ocr-failed",
                        record_id=f"{doc.source}#p{index + 1}",
                        detail=f"{type(e).__name__}: {e}",
                    )
                    bar.update(1)
                    continue
                page = Page(
                    source=doc.source,
                    doc_id=doc.doc_id,
                    page=index + 1,
                    text=result.text,
                    method="ocr",
                    reason=f"ocr:{job.flaws[index]}",
                    confidence=result.confidence,
                    seconds=result.seconds,
                )
            if not passed:
                funnel.passed_on(self.name)
                passed = True
            bar.update(1)
            yield page
