"""Page images to text: render, clean up, tesseract.

Every clean-up step is kept because it measured better on simulated office scans of corpus text
(bench/ocr_bench.py --ablation: 8 pages, 2 cores; CER and tesseract CPU seconds per page), or
because a corpus page needed it:

- gaussian blur (3x3) before thresholding: CER 1.65% -> 1.55% and 4.1 -> 3.4 CPU s/page, as scan
  noise no longer survives as specks for tesseract to read (a 3x3 median did worse in tuning);
- deskew by projection profile: 1.9% -> 1.7% and 1.6% -> 1.4% on two other samples of 12 and 8
  pages, neutral on the benchmark's own 8;
- global Otsu binarisation: CER as good as tesseract's own handling of the grey page (1.55% vs
  1.65%) at 40% less CPU;
- dark panels thresholded on their own (see _binarise): the white-and-teal title on the dark
  back cover of corpus 14 (page 273) is otherwise lost;
- page segmentation mode 6 (one uniform block): the automatic layout analysis (mode 3) split
  ordinary lines into separate blocks and garbled them (2.7% CER, worst page 7.2%).

Tried and dropped: whiting out shapes far taller than text (mascots, frames) before psm 6 made no
measurable difference on corpus 14 page 12; disabling tesseract's inverted-line retry, its noise
removal or its fixed-pitch (CJK) test changed neither time nor text. About 85% of tesseract's time
is the LSTM itself (perf), so its cost follows the amount of text: about 3 ms of CPU per character
with kor+eng, 2.3 with kor alone.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from domainlm.extract.markers import repair_paragraph_markers

# Tesseract's own OpenMP threads fight each other when several pages run at once; one thread per
# process, with one process per core, was much faster (see DESIGN.md). Set once in each OCR worker
# process (extractor._init_worker); the tesseract runs inherit it.
OCR_ENV = {"OMP_THREAD_LIMIT": "1"}

_SKEW_SCALE = 0.25  # skew is estimated on a quarter-size image: the angle is the same, and 16x cheaper
_DARK_BLOCK = 32  # px at the working resolution; panels smaller than a few blocks are left alone
_DARK_SHARE = 0.6  # a block this full of "ink" is background, not text
_FLAT_PANEL = 8.0  # grey-level spread below which a dark panel holds no text
_PANEL_CONTRAST = 40  # grey levels between a panel's colour and text on it
_MIN_INK = 2e-4  # below this share of dark pixels a page is blank
_MAX_SIDE_PX = 12000  # longest side of a rendered page (A3 at 600 DPI is 9900)


@dataclass(frozen=True)
class OcrOptions:
    """What the OCR step needs to know; derived from ExtractSettings and sent to worker processes."""

    dpi: int = 300
    languages: str = "kor+eng"
    psm: int = 6
    blur: bool = True
    deskew: bool = True
    max_skew: float = 5.0
    binarise: bool = True
    invert_dark: bool = True
    timeout_s: float = 300.0
    tessdata_dir: str | None = None  # None: tesseract's default language data


@dataclass(frozen=True)
class OcrResult:
    text: str
    confidence: float | None  # mean word confidence, 0-100; None where no words were found
    seconds: float
    skew: float = 0.0


class OcrError(Exception):
    """Tesseract (or rendering for it) failed on a page."""


def render_page(pdf: pdfium.PdfDocument, index: int, dpi: int) -> np.ndarray:
    """The page (0-based index) as a greyscale array at the given resolution."""
    page = pdf[index]
    try:
        width, height = page.get_size()  # points
        # A poster-sized page at 300 DPI would take gigabytes; text on it is large anyway.
        scale = min(dpi / 72, _MAX_SIDE_PX / max(width, height, 1.0))
        bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
        image = bitmap.to_pil().convert("L")
    finally:
        page.close()
    return np.asarray(image)


def estimate_skew(grey: np.ndarray, max_degrees: float = 5.0) -> float:
    """The angle (degrees, counter-clockwise positive) by which the text lines are tilted.

    Projection-profile search: text lines are sharpest, i.e. the histogram of ink over rotated rows is
    most peaked (largest sum of squares), at the true angle. Rotating point coordinates instead of the
    image keeps each candidate angle cheap. Coarse 0.5 degree steps, then 0.05 around the best.
    """
    small = cv2.resize(grey, None, fx=_SKEW_SCALE, fy=_SKEW_SCALE, interpolation=cv2.INTER_AREA)
    _, ink = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ys, xs = np.nonzero(ink)
    if len(xs) < 100 or len(xs) > 0.5 * ink.size:
        return 0.0  # blank, or a picture: there is nothing line-like to straighten
    x = xs.astype(np.float64)
    y = ys.astype(np.float64)

    def sharpness(degrees: float) -> float:
        t = np.deg2rad(degrees)
        rows = y * np.cos(t) - x * np.sin(t)
        histogram = np.bincount((rows - rows.min()).astype(np.int64))
        return float(np.dot(histogram, histogram))

    best = max(np.arange(-max_degrees, max_degrees + 1e-9, 0.5), key=sharpness)
    best = max(np.arange(best - 0.5, best + 0.5 + 1e-9, 0.05), key=sharpness)
    # Image rows grow downwards, so a line tilted counter-clockwise needs a negative shear to flatten.
    return -float(best)


def _rotate(grey: np.ndarray, degrees: float) -> np.ndarray:
    h, w = grey.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)  # counter-clockwise
    return cv2.warpAffine(grey, matrix, (w, h), flags=cv2.INTER_CUBIC, borderValue=255)


def _binarise(grey: np.ndarray, invert_dark: bool) -> np.ndarray:
    """Black text on white: a global Otsu threshold, then panels on it redone on their own.

    A page-wide threshold puts a dark panel (a cover's coloured background, a shaded table head)
    below the line together with everything on it: white text stays readable once inverted, but
    coloured text in the panel falls on the panel's side of the global threshold and vanishes. So
    regions that come out mostly ink are thresholded again against their own colour: whatever
    differs enough from it, lighter or darker, is ink.
    """
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if not invert_dark:
        return binary
    h, w = binary.shape
    ink = (binary == 0).astype(np.float32)
    blocks = cv2.resize(
        ink, (max(1, w // _DARK_BLOCK), max(1, h // _DARK_BLOCK)), interpolation=cv2.INTER_AREA
    )
    dark = (blocks > _DARK_SHARE).astype(np.uint8)
    if not dark.any():
        return binary
    # Close small gaps (letters inside the panel lower their block's share) and drop lone blocks,
    # which are bold headings or table rules rather than panels.
    kernel = np.ones((3, 3), np.uint8)
    dark = cv2.morphologyEx(dark, cv2.MORPH_CLOSE, kernel)
    dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, kernel)
    count, labels = cv2.connectedComponents(dark)
    if count <= 1:
        return binary
    full = cv2.resize(labels.astype(np.uint16), (w, h), interpolation=cv2.INTER_NEAREST)
    out = binary.copy()
    for label in range(1, count):
        region = full == label
        values = grey[region]
        if values.std() < _FLAT_PANEL:
            out[region] = 255  # a plain panel: nothing to read in it
            continue
        # Not Otsu: the panel's own colour dominates it so heavily that Otsu splits the text colours
        # from each other (white from teal on the corpus 14 cover) instead of from the panel.
        background = float(np.median(values))
        out[region] = np.where(np.abs(values - background) > _PANEL_CONTRAST, 0, 255).astype(np.uint8)
    return out


def clean_page(grey: np.ndarray, options: OcrOptions) -> tuple[np.ndarray, float]:
    """The page ready for tesseract, and the skew that was corrected (degrees)."""
    image = grey
    if options.blur:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    skew = estimate_skew(image, options.max_skew) if options.deskew else 0.0
    if abs(skew) >= 0.1:
        image = _rotate(image, -skew)
    if options.binarise:
        image = _binarise(image, options.invert_dark)
    return image, skew


def is_blank(image: np.ndarray) -> bool:
    if image.dtype != np.uint8:
        return False
    return float((image < 128).mean()) < _MIN_INK


def _mean_confidence(tsv: str) -> float | None:
    """Mean confidence of the recognised words (TSV rows of level 5 with text)."""
    confidences = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) == 12 and cols[0] == "5" and cols[11].strip():
            try:
                conf = float(cols[10])
            except ValueError:
                continue
            if conf >= 0:
                confidences.append(conf)
    return round(sum(confidences) / len(confidences), 2) if confidences else None


def recognise(image: np.ndarray, options: OcrOptions) -> tuple[str, float | None]:
    """Text and mean word confidence of a cleaned page image, from one tesseract run."""
    # Imported here, in the OCR workers only: pytesseract imports pandas when it is installed,
    # a second's start-up that a process reading text layers does not need to pay.
    import pytesseract

    with tempfile.TemporaryDirectory(prefix="domainlm-ocr-") as tmp:
        source = Path(tmp) / "page.png"
        picture = Image.fromarray(image)
        # A 1-bit PNG is quicker to write and for tesseract to read than 8-bit grey.
        (picture.convert("1") if options.binarise else picture).save(source, dpi=(options.dpi, options.dpi))
        base = Path(tmp) / "out"
        config = f"--psm {options.psm} --dpi {options.dpi} -c tessedit_create_tsv=1"
        if options.tessdata_dir:
            config = f"--tessdata-dir {shlex.quote(options.tessdata_dir)} {config}"
        try:
            pytesseract.pytesseract.run_tesseract(
                str(source), str(base), "txt", options.languages, config, timeout=int(options.timeout_s)
            )
            text = base.with_suffix(".txt").read_text(encoding="utf-8", errors="replace")
            tsv = base.with_suffix(".tsv").read_text(encoding="utf-8", errors="replace")
        except (pytesseract.TesseractError, RuntimeError, OSError, subprocess.SubprocessError) as e:
            raise OcrError(f"tesseract failed: {e}") from e
    return _tidy(text), _mean_confidence(tsv)


def _tidy(text: str) -> str:
    # Tesseract ends pages with a form feed and pads lines; neither is content.
    lines = [line.rstrip() for line in text.replace("\f", "").splitlines()]
    return "\n".join(lines).strip("\n")


def ocr_image(grey: np.ndarray, options: OcrOptions) -> OcrResult:
    """Clean-up and recognition of one page image."""
    started = time.perf_counter()
    image, skew = clean_page(grey, options)
    if is_blank(image):
        return OcrResult(text="", confidence=None, seconds=time.perf_counter() - started, skew=skew)
    text, confidence = recognise(image, options)
    if "kor" in options.languages.split("+"):
        text = repair_paragraph_markers(text)
    return OcrResult(text=text, confidence=confidence, seconds=time.perf_counter() - started, skew=skew)
