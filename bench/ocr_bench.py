"""Extraction throughput and accuracy: domainlm's extract stage against naive baselines.

(a) Scanned pages. Real policy text (corpus 05, 13, 01) is typeset with NanumGothic at 10 pt on A4
    at 300 DPI, then degraded like an office scan (blur, 1-2 degree skew, gaussian noise, JPEG
    quality 40) and written as an image-only PDF. The reference is the text that was drawn.
      ours   PdfExtractor with default settings: clean-up, deskew, tesseract kor+eng, psm 6, one
             single-threaded tesseract per core.
      naive  each page rendered at 300 DPI and given to pytesseract.image_to_string(img,
             lang="kor+eng"), one after another, tesseract's own defaults (OpenMP threads, psm 3).
(b) Text-layer pages. The same kind of text typeset with reportlab into a PDF with a text layer,
    against the text that was drawn; and the 99 pages of corpus 01, a real Hancom-made policy.
      ours      PdfExtractor (pdftotext per page range, soundness check)
      pdfium    pypdfium2 get_text_range(), the fast reader that garbles corpus 05/10
      pdftotext one pdftotext process per page

Character error rate: edit distance over all pages / reference characters, whitespace removed
(see domainlm.extract.quality). Wall-clock seconds include starting the OCR worker pool.

    .venv/bin/python bench/ocr_bench.py [--scan-pages 8] [--naive-pages 3] [--text-pages 200]
                                        [--workers N] [--ablation] [--skip-naive]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pytesseract
from PIL import ImageFont
from rapidfuzz.distance import Levenshtein
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from domainlm.extract import ExtractSettings, PdfExtractor
from domainlm.extract.quality import normalise
from domainlm.extract.scans import (
    NANUM_GOTHIC,
    drawable,
    sample_lines,
    simulate_scan,
    typeset,
    write_image_pdf,
)
from domainlm.funnel import Funnel
from domainlm.paths import corpus_dir, sample_policy

CORPUS = corpus_dir()
SAMPLE_POLICY = sample_policy()


@dataclass
class Row:
    case: str
    method: str
    pages: int
    seconds: float
    cer: float | None
    worst: float | None = None
    note: str = ""
    cpu: float | None = None  # CPU seconds of this process and all its children, per page


def corpus_text() -> str:
    """Lines of real policy text: corpus 05, 13 and 01 where present, else the sample policy."""
    sources = [("05", "1", "4"), ("13", "5", "20"), ("01", "10", "30")]
    texts = []
    for prefix, first, last in sources:
        found = sorted(CORPUS.glob(f"{prefix}_*.pdf"))
        if found:
            texts.append(_pdftotext(found[0], first, last))
    if not texts:
        texts.append(_pdftotext(SAMPLE_POLICY, "1", "99"))
    return sample_lines(t for text in texts for t in text.split("\f"))


def _pdftotext(pdf: Path, first: str, last: str) -> str:
    cmd = ["pdftotext", "-q", "-f", first, "-l", last, str(pdf), "-"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[float, float]:
    """(all pages pooled, worst page)."""
    edits = chars = 0
    worst = 0.0
    for ref, hyp in zip(references, hypotheses, strict=True):
        r, h = normalise(ref), normalise(hyp)
        d = Levenshtein.distance(r, h)
        edits += d
        chars += len(r)
        worst = max(worst, d / max(1, len(r)))
    return edits / max(1, chars), worst


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (workers, tesseract, pdftotext)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], list[str]]) -> tuple[list[str], float, float]:
    """The result, wall-clock seconds and CPU seconds of fn()."""
    cpu = cpu_seconds()
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started, cpu_seconds() - cpu


def run_ours(pdf: Path, settings: ExtractSettings) -> tuple[list[str], float, float, Counter[str]]:
    funnel = Funnel()
    methods: Counter[str] = Counter()

    def extract() -> list[str]:
        pages = list(PdfExtractor(settings).run([str(pdf)], funnel))
        methods.update(p.method for p in pages)
        return [p.text for p in pages]

    texts, seconds, cpu = timed(extract)
    rejected = funnel.rejected("extract")
    if rejected:
        raise SystemExit(f"extract rejected {rejected} record(s): {funnel.stage_summary('extract')}")
    return texts, seconds, cpu, methods


# --- (a) scans -------------------------------------------------------------------------------------


def make_scans(text: str, pages: int, out: Path, seed: int) -> list[str]:
    typeset_pages = typeset(text)
    if len(typeset_pages) < pages:
        typeset_pages = (typeset_pages * (1 + pages // len(typeset_pages)))[:pages]
    chosen = typeset_pages[:pages]
    write_image_pdf([simulate_scan(p.image, seed + i) for i, p in enumerate(chosen)], out)
    return [p.text for p in chosen]


def naive_ocr(pdf: Path, pages: int) -> list[str]:
    doc = pdfium.PdfDocument(str(pdf))
    texts = []
    for i in range(pages):
        image = doc[i].render(scale=300 / 72).to_pil()
        texts.append(pytesseract.image_to_string(image, lang="kor+eng"))
    doc.close()
    return texts


ABLATIONS: list[tuple[str, dict[str, object]]] = [
    ("ours, languages=kor", {"languages": "kor"}),
    ("ours, English word list kept", {"no_word_list": []}),
    ("ours, no deskew", {"deskew": False}),
    ("ours, no blur", {"blur": False}),
    ("ours, grey (no binarisation)", {"binarise": False}),
    ("ours, psm 3 (auto layout)", {"psm": 3}),
]


def bench_scans(args: argparse.Namespace, work: Path, text: str) -> list[Row]:
    pdf = work / "scans.pdf"
    references = make_scans(text, args.scan_pages, pdf, args.seed)
    chars = sum(len(normalise(r)) for r in references) // len(references)
    rows = []
    base = ExtractSettings(workers=args.workers)
    variants: list[tuple[str, dict[str, object]]] = [("ours", {})]
    if args.ablation:
        variants += ABLATIONS
    for name, change in variants:
        texts, seconds, cpu, methods = run_ours(pdf, base.model_copy(update=change))
        cer, worst = error_rate(references, texts)
        note = f"{chars} chars/page" if name == "ours" else ""
        if methods["ocr"] != len(references):
            note += f" methods {dict(methods)}"
        n = len(references)
        rows.append(Row("(a) noisy scans", name, n, seconds, cer, worst, note, cpu / n))
    if not args.skip_naive:
        n = min(args.naive_pages, len(references))
        texts, seconds, cpu = timed(lambda: naive_ocr(pdf, n))
        cer, worst = error_rate(references[:n], texts)
        rows.append(
            Row("(a) noisy scans", "naive pytesseract", n, seconds, cer, worst, "sequential", cpu / n)
        )
    return rows


# --- (b) text layers -------------------------------------------------------------------------------


def text_layer_pdf(text: str, pages: int, out: Path) -> list[str]:
    """A reportlab PDF of the text (10 pt NanumGothic, A4) and each page's drawn text."""
    pdfmetrics.registerFont(TTFont("NanumGothic", str(NANUM_GOTHIC)))
    size, leading, margin = 10, 16, 56
    width, height = A4
    lines: list[str] = []
    text = drawable(ImageFont.truetype(str(NANUM_GOTHIC), 40), text)
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if pdfmetrics.stringWidth(candidate, "NanumGothic", size) <= width - 2 * margin:
                line = candidate
            else:
                lines.append(line)
                line = word
        if line:
            lines.append(line)
    per_page = int((height - 2 * margin) // leading)
    while len(lines) < pages * per_page:
        lines += lines
    pdf = canvas.Canvas(str(out), pagesize=A4)
    references = []
    for p in range(pages):
        chunk = lines[p * per_page : (p + 1) * per_page]
        pdf.setFont("NanumGothic", size)
        for i, line in enumerate(chunk):
            pdf.drawString(margin, height - margin - (i + 1) * leading, line)
        pdf.showPage()
        references.append("\n".join(chunk))
    pdf.save()
    return references


def pdfium_text(pdf: Path) -> list[str]:
    doc = pdfium.PdfDocument(str(pdf))
    texts = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    doc.close()
    return texts


def pdftotext_per_page(pdf: Path, pages: int) -> list[str]:
    return [_pdftotext(pdf, str(i), str(i)).rstrip("\f") for i in range(1, pages + 1)]


def text_only(settings: ExtractSettings) -> ExtractSettings:
    """Settings under which no page goes to OCR: times the text-layer path alone."""
    return settings.model_copy(
        update={
            "min_chars": 0,
            "max_mojibake_share": 1.0,
            "max_private_use_share": 1.0,
            "max_rare_syllables": 10**9,
            "max_orphaned_articles": 10**9,
        }
    )


def bench_text_layers(args: argparse.Namespace, work: Path, text: str) -> list[Row]:
    rows = []
    pdf = work / "text-layer.pdf"
    references = text_layer_pdf(text, args.text_pages, pdf)
    n = len(references)
    case = "(b) reportlab text layer"
    settings = ExtractSettings(workers=args.workers)
    texts, seconds, cpu, methods = run_ours(pdf, settings)
    cer, worst = error_rate(references, texts)
    note = "" if methods["ocr"] == 0 else str(dict(methods))
    rows.append(Row(case, "ours", n, seconds, cer, worst, note, cpu / n))
    texts, seconds, cpu = timed(lambda: pdfium_text(pdf))
    rows.append(Row(case, "pdfium get_text_range", n, seconds, *error_rate(references, texts), "", cpu / n))
    texts, seconds, cpu = timed(lambda: pdftotext_per_page(pdf, n))
    rows.append(Row(case, "pdftotext per page", n, seconds, *error_rate(references, texts), "", cpu / n))

    found = sorted(CORPUS.glob("01_*.pdf"))
    if found:
        real = found[0]
        case = "(b) corpus 01 (99 pages)"
        texts, seconds, cpu, methods = run_ours(real, settings)
        n = len(texts)
        rows.append(
            Row(case, "ours, end to end", n, seconds, None, None, f"methods {dict(methods)}", cpu / n)
        )
        texts, seconds, cpu, methods = run_ours(real, text_only(settings))
        rows.append(Row(case, "ours, text-layer path only", n, seconds, None, None, "every page", cpu / n))
        plain = ["pdftotext", "-q", str(real), "-"]
        _, seconds, cpu = timed(
            lambda: [subprocess.run(plain, capture_output=True, check=True).stdout.decode()]
        )
        rows.append(Row(case, "pdftotext whole file", n, seconds, None, None, "1 process", cpu / n))
        texts, seconds, cpu = timed(lambda: pdfium_text(real))
        rows.append(Row(case, "pdfium get_text_range", n, seconds, None, None, "", cpu / n))
    return rows


# --- report ----------------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'case':<26} {'method':<30} {'pages':>5} {'seconds':>8} {'pages/s':>8} {'cpu s/pg':>8}"
        f" {'CER':>7} {'worst':>7}  note"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        cer = f"{r.cer:7.2%}" if r.cer is not None else f"{'-':>7}"
        worst = f"{r.worst:7.2%}" if r.worst is not None else f"{'-':>7}"
        rate = r.pages / r.seconds if r.seconds > 0 else float("inf")
        cpu = f"{r.cpu:8.3f}" if r.cpu is not None else f"{'-':>8}"
        print(
            f"{r.case:<26} {r.method:<30} {r.pages:>5} {r.seconds:>8.2f} {rate:>8.2f} {cpu}"
            f" {cer} {worst}  {r.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scan-pages", type=int, default=8, help="simulated scanned pages for ours")
    parser.add_argument("--naive-pages", type=int, default=3, help="of those, pages for the slow baseline")
    parser.add_argument("--text-pages", type=int, default=200, help="pages of the reportlab text-layer PDF")
    parser.add_argument("--workers", type=int, default=None, help="OCR processes [default: all cores]")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--ablation", action="store_true", help="also run ours without each clean-up step")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-scans", action="store_true")
    args = parser.parse_args()

    version = pytesseract.get_tesseract_version()
    load = os.getloadavg()[0]
    print(f"cores {os.cpu_count()}, load average {load:.2f} at start, tesseract {version}")
    text = corpus_text()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="ocr-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_scans:
            rows += bench_scans(args, work, text)
        rows += bench_text_layers(args, work, text)
    print_table(rows)


if __name__ == "__main__":
    main()
