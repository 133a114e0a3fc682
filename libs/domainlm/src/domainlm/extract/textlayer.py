"""The text layer of a PDF, read with poppler's pdftotext, and whether it can be trusted.

pdftotext and not pdfium: pdfium returns characters in content-stream order, and on some Hancom/HWP
PDFs in the corpus (05, 10) that puts article numbers after their headings ("제 조 목적 1 ( )") and
maps circled numbers to rare Hangul syllables (숔숕숖). pdftotext's default (reading-order) mode gets
the same pages right. One pdftotext process reads a whole range of pages; a page break (form feed)
ends every page.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# --- soundness -------------------------------------------------------------------------------------

# Hangul syllables a KS X 1001 (EUC-KR) code point exists for: the 2,350 in everyday use. Python's
# euc-kr codec does not fail on the other 8,822 syllables, it spells them as 8-byte jamo sequences, so
# the test is the length of the encoding, not whether it raises.
_COMMON_SYLLABLES = frozenset(ch for ch in map(chr, range(0xAC00, 0xD7A4)) if len(ch.encode("euc_kr")) == 2)
# "제 조", "제 항", "제 호" with the number gone from between them: a layer whose digits were placed
# elsewhere on the line. Only spaces between, not a line break: "국내 제\n조" is the word 제조 wrapped.
_ORPHANED_ARTICLE = re.compile(r"제[ \t]+[조항호](?=[ \t\n(의]|$)")
_ALLOWED_CONTROLS = frozenset("\n\r\t\f")


@dataclass(frozen=True)
class SoundnessRules:
    """Thresholds above which a page's text layer is not used and the page is OCRed instead."""

    min_chars: int = 30  # fewer non-space characters: an image-only or empty page
    max_mojibake_share: float = 0.01  # U+FFFD and control characters, of non-space characters
    max_private_use_share: float = 0.02  # U+E000-U+F8FF, of non-space characters
    max_rare_syllables: int = 2  # Hangul syllables outside KS X 1001
    max_orphaned_articles: int = 1  # "제 조" with its number displaced


def is_private_use(ch: str) -> bool:
    return 0xE000 <= ord(ch) <= 0xF8FF


def is_rare_syllable(ch: str) -> bool:
    return 0xAC00 <= ord(ch) <= 0xD7A3 and ch not in _COMMON_SYLLABLES


def flaw(text: str | None, rules: SoundnessRules | None = None) -> str | None:
    """Why the text layer of a page should not be used, or None when it is sound.

    The first flaw found is reported, most severe first. Shares, not counts, for symbol-like flaws:
    a few private-use bullets (corpus 14 draws its circled numbers as U+F000) leave a page readable,
    while a page that is mostly such glyphs is not. Rare syllables are counted: in the corpus a
    sound page has at most one, and a garbled one has one per paragraph.
    """
    r = rules or SoundnessRules()
    if text is None:
        return "text-layer-unreadable"
    visible = [ch for ch in text if not ch.isspace()]
    if len(visible) < r.min_chars:
        return "empty-text-layer"
    n = len(visible)
    mojibake = sum(
        ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS) for ch in text
    )
    if mojibake / n > r.max_mojibake_share:
        return "mojibake"
    if sum(map(is_private_use, visible)) / n > r.max_private_use_share:
        return "private-use-glyphs"
    if sum(map(is_rare_syllable, visible)) > r.max_rare_syllables:
        return "rare-syllables"
    if len(_ORPHANED_ARTICLE.findall(text)) > r.max_orphaned_articles:
        return "displaced-digits"
    return None


# --- reading ---------------------------------------------------------------------------------------

_MIN_PAGES_PER_PROCESS = 40  # below this a second pdftotext costs more (it re-parses the file) than it saves


@dataclass(frozen=True)
class TextLayer:
    pages: list[str | None]  # per page; None where pdftotext failed for it
    seconds: float


def page_ranges(pages: int, parts: int) -> list[tuple[int, int]]:
    """Up to `parts` contiguous 1-based inclusive ranges covering the pages, none tiny.

    >>> page_ranges(99, 2), page_ranges(4, 8)
    ([(1, 50), (51, 99)], [(1, 4)])
    """
    parts = max(1, min(parts, pages // _MIN_PAGES_PER_PROCESS or 1))
    size = math.ceil(pages / parts)
    return [(first, min(pages, first + size - 1)) for first in range(1, pages + 1, size)]


def _qpdf_object(path: Path, which: str) -> str | None:
    try:
        done = subprocess.run(
            ["qpdf", f"--show-object={which}", str(path)], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    # Exit status 3 means warnings (a repaired file); the object is still printed.
    return done.stdout.decode("latin-1") if done.returncode in (0, 3) and done.stdout else None


_REF = r"(\d+)\s+(\d+)\s+R"
_OUTPUT_INTENTS = re.compile(r"/OutputIntents\s*(?:\[[^\[\]]*\]|\d+\s+\d+\s+R)")


def _without_output_intents(path: Path, out_dir: Path) -> Path | None:
    """A copy of the PDF whose catalog has no /OutputIntents, or None when there is nothing to drop.

    Why: poppler builds a colour transform from the output-intent ICC profile for every page it
    displays, even to extract text; on the Hancom-made corpus PDFs (01, 14) that was 80% of
    pdftotext's time (1.7 s -> 0.3 s for the 99 pages of corpus 01, identical text). Text does not
    depend on colour management. The copy is the original bytes plus an incremental update that
    replaces the catalog, so nothing else in the file changes. Encrypted files are left alone.
    """
    trailer = _qpdf_object(path, "trailer")
    if not trailer or "/Encrypt" in trailer:
        return None
    root = re.search(r"/Root\s+" + _REF, trailer)
    size = re.search(r"/Size\s+(\d+)", trailer)
    if not root or not size:
        return None
    catalog = _qpdf_object(path, f"{root.group(1)},{root.group(2)}")
    if not catalog or "/OutputIntents" not in catalog:
        return None
    trimmed, replaced = _OUTPUT_INTENTS.subn("", catalog.strip())
    if replaced != 1 or trimmed.count("<<") != trimmed.count(">>"):
        return None
    data = path.read_bytes()
    start = data.rfind(b"startxref", max(0, len(data) - 4096))
    prev = re.match(rb"startxref\s+(\d+)", data[start:]) if start >= 0 else None
    if prev is None:
        return None
    obj_num, gen = int(root.group(1)), int(root.group(2))
    extra = [f"/Size {size.group(1)}", f"/Root {obj_num} {gen} R", f"/Prev {int(prev.group(1))}"]
    info = re.search(r"/Info\s+" + _REF, trailer)
    if info:
        extra.append(f"/Info {info.group(1)} {info.group(2)} R")
    ids = re.search(r"/ID\s*\[[^\]]*\]", trailer)
    if ids:
        extra.append(ids.group(0))
    body = bytearray(data)
    if not body.endswith(b"\n"):
        body += b"\n"
    offset = len(body)
    body += f"{obj_num} {gen} obj\n{trimmed}\nendobj\n".encode("latin-1")
    xref_at = len(body)
    body += f"xref\n0 1\n0000000000 65535 f \n{obj_num} 1\n{offset:010d} {gen:05d} n \n".encode("ascii")
    body += f"trailer\n<< {' '.join(extra)} >>\nstartxref\n{xref_at}\n%%EOF\n".encode("latin-1")
    copy = out_dir / "text-layer.pdf"
    copy.write_bytes(bytes(body))
    return copy


@contextmanager
def _readable_copy(path: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="domainlm-text-") as tmp:
        try:
            faster = _without_output_intents(path, Path(tmp))
        except (OSError, UnicodeError, ValueError):
            faster = None
        yield faster or path


def _split(output: bytes, expected: int) -> list[str | None]:
    pages: list[str | None] = [p.rstrip() for p in output.decode("utf-8", errors="replace").split("\f")]
    # Every page ends with a form feed, so the piece after the last one is empty.
    if len(pages) == expected + 1 and not pages[-1]:
        pages.pop()
    if len(pages) != expected:
        return [None] * expected
    return pages


def read_text_layer(path: Path, pages: int, processes: int = 1, timeout_s: float = 600.0) -> TextLayer:
    """The text of every page, reading page ranges in parallel pdftotext processes."""
    started = time.perf_counter()
    texts: list[str | None] = []
    with _readable_copy(path) as source:
        ranges = page_ranges(pages, processes)
        running: list[subprocess.Popen[bytes] | None] = []
        for first, last in ranges:
            cmd = ["pdftotext", "-q", "-enc", "UTF-8", "-f", str(first), "-l", str(last), str(source), "-"]
            try:
                running.append(
                    subprocess.Popen(
                        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_c_locale_env()
                    )
                )
            except OSError:
                running.append(None)
        for (first, last), proc in zip(ranges, running, strict=True):
            expected = last - first + 1
            if proc is None:
                texts.extend([None] * expected)
                continue
            try:
                out, _ = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                texts.extend([None] * expected)
                continue
            texts.extend(_split(out, expected) if proc.returncode == 0 else [None] * expected)
    return TextLayer(pages=texts, seconds=time.perf_counter() - started)


def _c_locale_env() -> dict[str, str]:
    # pdftotext's messages and number formats should not depend on the caller's locale.
    return {**os.environ, "LC_ALL": "C.UTF-8"}
