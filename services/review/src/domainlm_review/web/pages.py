"""A source PDF page as a PNG with the item's evidence boxed, so a reviewer sees it where it stands.

Boxes come from the text layer (pdfium's text search, in document order); a scanned page has none, so
its words and their boxes come from tesseract, and the run of words the evidence consists of is boxed.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from domainlm.textsim import squash

SCALE = 1.6  # 72 dpi x 1.6: legible Korean at a screen's width
Box = tuple[float, float, float, float]  # left, top, right, bottom in image pixels


def _text_layer_boxes(page: pdfium.PdfPage, evidence: str, height: float) -> list[Box]:
    """The evidence found piece by piece (the page's line breaks split it), each piece after the last.

    A piece is two words or more (one common word is found anywhere), and at least half the evidence's
    words must be found, or nothing is boxed: a box on the wrong text is worse than none.
    """
    textpage = page.get_textpage()
    words, boxes, i, after, matched = evidence.split(), [], 0, -1, 0
    shortest = 1 if len(words) == 1 else 2
    while i < len(words):
        for j in range(min(len(words), i + 12), i + shortest - 1, -1):  # the longest run found as one
            searcher = textpage.search(" ".join(words[i:j]), match_case=False)
            found = first = None
            while (occ := searcher.get_next()) is not None:
                first = first or occ
                if occ[0] > after:
                    found = occ
                    break
            if (found := found or first) is not None:
                for k in range(textpage.count_rects(*found)):
                    left, bottom, right, top = textpage.get_rect(k)
                    boxes.append(
                        (left * SCALE, (height - top) * SCALE, right * SCALE, (height - bottom) * SCALE)
                    )
                after, matched, i = found[0] + found[1] - 1, matched + j - i, j
                break
        else:
            i += 1  # a word the page does not have as text (hyphenation, a marker): skip it
    return boxes if matched * 2 >= len(words) else []


@lru_cache(maxsize=64)
def _ocr_words(pdf: str, page_no: int) -> list[tuple[str, Box]]:
    import pytesseract

    with pdfium.PdfDocument(pdf) as doc:
        image = doc[page_no - 1].render(scale=SCALE).to_pil()
    data = pytesseract.image_to_data(image, lang="kor+eng", output_type=pytesseract.Output.DICT)
    return [
        (text, (left, top, left + w, top + h))
        for text, left, top, w, h, conf in zip(
            data["text"], data["left"], data["top"], data["width"], data["height"], data["conf"], strict=True
        )
        if text.strip() and float(conf) > 30
    ]


def _ocr_boxes(pdf: Path, page_no: int, evidence: str) -> list[Box]:
    """The window of OCR words (as long as the evidence) with the most words the evidence contains."""
    words = _ocr_words(str(pdf), page_no)
    target, n = squash(evidence), max(1, len(evidence.split()))
    hits = [len(squash(w)) >= 2 and squash(w) in target for w, _ in words]
    best, start = 0, 0
    for s in range(len(words)):
        score = sum(hits[s : s + n])
        if score > best:
            best, start = score, s
    if best < max(1, n // 3):
        return []
    return [
        box for (_, box), hit in zip(words[start : start + n], hits[start : start + n], strict=True) if hit
    ]


def render(pdf: Path, page_no: int, evidence: str) -> bytes:
    """The page as PNG, the evidence boxed (IndexError: no such page)."""
    with pdfium.PdfDocument(pdf) as doc:
        if not 1 <= page_no <= len(doc):
            raise IndexError(f"{pdf.name} has {len(doc)} pages, not {page_no}")
        page = doc[page_no - 1]
        image: Image.Image = page.render(scale=SCALE).to_pil().convert("RGB")
        has_text = bool(page.get_textpage().get_text_range().strip())
        boxes = _text_layer_boxes(page, evidence, page.get_height()) if evidence and has_text else []
    if evidence and not has_text:
        boxes = _ocr_boxes(pdf, page_no, evidence)
    overlay = Image.new("RGBA", image.size)
    draw = ImageDraw.Draw(overlay)
    for left, top, right, bottom in boxes:
        draw.rectangle(
            (left - 2, top - 2, right + 2, bottom + 2),
            fill=(255, 214, 0, 70),
            outline=(214, 40, 40, 255),
            width=2,
        )
    out = io.BytesIO()
    Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB").save(
        out, format="PNG", optimize=True
    )
    return out.getvalue()


def evidence_page(pdf: Path, page_numbers: list[int], evidence: str) -> int | None:
    """Which of the chunk's pages holds the evidence (its opening words), to show that one first."""
    head = squash(" ".join(evidence.split()[:6]))
    if not head:
        return None
    with pdfium.PdfDocument(pdf) as doc:
        for n in page_numbers:
            if 1 <= n <= len(doc) and head in squash(doc[n - 1].get_textpage().get_text_range()):
                return n
    return None


def find_pdf(source: str, dirs: list[Path]) -> Path | None:
    """The item's source PDF: its path as recorded, or a file of that name in one of `dirs`."""
    path = Path(source)
    if path.is_file():
        return path
    for d in dirs:
        if (candidate := d / path.name).is_file():
            return candidate
    return None
