"""Synthetic scans of known text, so OCR quality can be measured against a reference.

A page of text is typeset with NanumGothic on A4 at scan resolution, then degraded the way a cheap
office scan is: optical blur, a slightly skewed page, sensor noise and heavy JPEG compression. The
reference is exactly the text that was drawn (characters the font cannot draw are left out of both).
Tests and the OCR benchmark use it; nothing in the extraction path does.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

NANUM_GOTHIC = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
A4_MM = (210.0, 297.0)
_MM_PER_INCH = 25.4


@dataclass(frozen=True)
class ScanDefects:
    """How badly a page is scanned. The defaults are a poor but common office scan."""

    noise_sigma: float = 12.0  # gaussian sensor noise, in grey levels (0-255)
    blur_radius: float = 1.0  # gaussian blur radius in pixels at 300 DPI
    rotation: tuple[float, float] = (1.0, 2.0)  # skew magnitude range in degrees, sign chosen at random
    jpeg_quality: int = 40


@dataclass(frozen=True)
class TypesetPage:
    image: Image.Image  # greyscale ("L"), clean
    text: str  # what was drawn, one line per drawn line


def a4_size(dpi: int) -> tuple[int, int]:
    return (round(A4_MM[0] / _MM_PER_INCH * dpi), round(A4_MM[1] / _MM_PER_INCH * dpi))


@lru_cache(maxsize=8)
def _font(path: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px)


def _glyph(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    canvas = Image.new("L", (2 * int(font.size), 2 * int(font.size)), 0)
    ImageDraw.Draw(canvas).text((0, 0), ch, font=font, fill=255)
    return canvas.tobytes()


def drawable(font: ImageFont.FreeTypeFont, text: str) -> str:
    """The text without characters the font lacks (they would be drawn as .notdef boxes)."""
    notdef = _glyph(font, "\ue000")
    supported: dict[str, bool] = {}
    out = []
    for ch in text:
        if not ch.isspace():
            if ch not in supported:
                supported[ch] = _glyph(font, ch) != notdef
            if not supported[ch]:
                continue
        out.append(ch)
    return "".join(out)


def _wrap(font: ImageFont.FreeTypeFont, paragraph: str, width: int) -> list[str]:
    """Greedy wrapping on spaces; a word wider than the line is broken between characters."""
    lines: list[str] = []
    line = ""
    for word in paragraph.split():
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:
            if font.getlength(line + ch) > width and line:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return lines


def typeset(
    text: str,
    *,
    dpi: int = 300,
    font_pt: float = 10.0,
    line_spacing: float = 1.6,
    margin_mm: float = 20.0,
    font_path: Path = NANUM_GOTHIC,
) -> list[TypesetPage]:
    """Lays the text out on as many A4 pages as it needs; each source line starts a new paragraph."""
    font = _font(str(font_path), round(font_pt / 72 * dpi))
    width, height = a4_size(dpi)
    margin = round(margin_mm / _MM_PER_INCH * dpi)
    step = round(font.size * line_spacing)
    per_page = max(1, (height - 2 * margin) // step)
    lines = [
        wrapped
        for paragraph in drawable(font, text).splitlines()
        for wrapped in _wrap(font, paragraph, width - 2 * margin)
    ]
    pages = []
    for start in range(0, len(lines), per_page):
        chunk = lines[start : start + per_page]
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(chunk):
            draw.text((margin, margin + i * step), line, font=font, fill=0)
        pages.append(TypesetPage(image=image, text="\n".join(chunk)))
    return pages


def simulate_scan(image: Image.Image, seed: int = 0, defects: ScanDefects | None = None) -> Image.Image:
    """A degraded copy of a clean page image, reproducible for a given seed."""
    d = defects or ScanDefects()
    rng = random.Random(seed)
    scanned = image.convert("L")
    if d.blur_radius > 0:
        scanned = scanned.filter(ImageFilter.GaussianBlur(d.blur_radius))
    low, high = d.rotation
    angle = rng.uniform(low, high) * rng.choice((-1, 1))
    if angle:
        scanned = scanned.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    if d.noise_sigma > 0:
        noise = np.random.default_rng(seed).normal(0.0, d.noise_sigma, (scanned.height, scanned.width))
        pixels = np.asarray(scanned, dtype=np.float32) + noise
        scanned = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    buffer = io.BytesIO()
    scanned.save(buffer, "JPEG", quality=d.jpeg_quality)
    buffer.seek(0)
    return Image.open(buffer).convert("L")


def write_image_pdf(images: Sequence[Image.Image], path: Path, dpi: int = 300) -> Path:
    """An image-only PDF (no text layer), one page per image, sized so the images are `dpi`.

    Pillow stores greyscale pages as JPEG; quality 95 keeps the scan's own artefacts without adding
    much of its own.
    """
    if not images:
        raise ValueError("an image-only PDF needs at least one page")
    first, *rest = images
    first.save(path, "PDF", resolution=float(dpi), save_all=True, append_images=rest, quality=95)
    return path


def scanned_pdf(
    text: str, path: Path, *, seed: int = 0, dpi: int = 300, defects: ScanDefects | None = None
) -> list[str]:
    """Typesets the text, scans every page and writes them as an image-only PDF; returns each
    page's reference text."""
    pages = typeset(text, dpi=dpi)
    write_image_pdf([simulate_scan(p.image, seed + i, defects) for i, p in enumerate(pages)], path, dpi)
    return [p.text for p in pages]


def sample_lines(texts: Iterable[str], min_chars: int = 4) -> str:
    """Lines of real text worth typesetting: drops page furniture such as '- 3 -' and blank lines."""
    kept = []
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if sum(not c.isspace() for c in line) >= min_chars:
                kept.append(line)
    return "\n".join(kept)
