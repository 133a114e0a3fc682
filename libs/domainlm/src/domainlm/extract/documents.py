"""Opening a PDF: its content id, its page count, and a clear reason when it cannot be used."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

_HEAD = 1024  # the %PDF- header may follow some junk; readers accept it within the first KiB
_TAIL = 2048  # likewise the final %%EOF may be followed by padding


class DocumentError(Exception):
    """A document that cannot be extracted, with a short machine-readable reason.

    Reasons: not-a-pdf, encrypted, corrupt, no-pages, too-many-pages, duplicate-document, unreadable.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Document:
    source: str  # exactly as the caller named it
    path: Path
    doc_id: str  # sha256 of the bytes
    pages: int


def sha256_of(path: Path) -> str:
    """The document id. Raises DocumentError("unreadable") when the file cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise DocumentError("unreadable", f"{path}: {e.strerror or e}") from e
    return digest.hexdigest()


def _edges(path: Path) -> tuple[bytes, bytes, int]:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_HEAD)
            f.seek(max(0, size - _TAIL))
            tail = f.read()
    except OSError as e:
        raise DocumentError("unreadable", f"{path}: {e.strerror or e}") from e
    return head, tail, size


def _qpdf_verdict(path: Path) -> DocumentError | None:
    """Second opinion where pdfium refuses a file: pdfium says "data format error" both for damaged
    files and for well-formed files without pages, which deserve different answers."""
    try:
        done = subprocess.run(
            ["qpdf", "--show-npages", str(path)], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    said = (done.stdout + done.stderr).strip()
    if done.returncode != 0 and "password" in said.lower():
        return DocumentError("encrypted", "the document needs a password to open")
    if done.returncode == 0 and said == "0":
        return DocumentError("no-pages", "the document has no pages")
    return None


def open_document(source: str, max_pages: int, doc_id: str | None = None) -> Document:
    """Checks that `source` is a PDF that can be read without a password and has 1..max_pages pages.

    PDFs with only an owner password (restrictions on printing or copying) open without one and
    are accepted: extracting text for the owner's own model is what they are given to us for.
    """
    path = Path(source)
    if not path.is_file():
        raise DocumentError("unreadable", f"{source}: no such file")
    head, tail, size = _edges(path)
    if size == 0:
        raise DocumentError("not-a-pdf", "the file is empty")
    if b"%PDF-" not in head:
        raise DocumentError("not-a-pdf", f"no %PDF- header in the first {_HEAD} bytes")
    if b"%%EOF" not in tail:
        raise DocumentError("corrupt", f"truncated: no %%EOF marker in the last {_TAIL} bytes")
    digest = doc_id or sha256_of(path)
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        # qpdf first: pdfium's error code is process-global state that a failure does not always
        # reset, so after one encrypted file a later, unrelated failure can still read "password".
        verdict = _qpdf_verdict(path)
        if verdict is None and getattr(e, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
            verdict = DocumentError("encrypted", "the document needs a password to open")
        raise (verdict or DocumentError("corrupt", str(e))) from e
    try:
        pages = len(pdf)
    finally:
        pdf.close()
    if pages == 0:
        raise DocumentError("no-pages", "the document has no pages")
    if pages > max_pages:
        raise DocumentError("too-many-pages", f"{pages} pages, more than the limit of {max_pages}")
    return Document(source=source, path=path, doc_id=digest, pages=pages)
