"""Bad documents are refused with a reason each, and the rest of the batch still comes out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfWriter

from corpus import SAMPLE_POLICY
from domainlm.extract import DocumentError, ExtractSettings, PdfExtractor
from domainlm.extract.documents import open_document, sha256_of
from domainlm.extract.scans import typeset, write_image_pdf
from domainlm.funnel import Funnel
from domainlm.jsonl import read_rows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("qpdf") is None:
        pytest.skip("qpdf is needed to make an encrypted PDF")
    d = tmp_path_factory.mktemp("bad")
    good = d / "good.pdf"
    shutil.copy(SAMPLE_POLICY, good)
    not_pdf = d / "notes.pdf"
    not_pdf.write_text("이것은 PDF가 아닙니다. just text with a .pdf name\n", encoding="utf-8")
    encrypted = d / "encrypted.pdf"
    subprocess.run(
        ["qpdf", "--encrypt", "user-pw", "owner-pw", "256", "--", str(good), str(encrypted)], check=True
    )
    truncated = d / "truncated.pdf"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    no_pages = d / "empty.pdf"
    with no_pages.open("wb") as f:
        PdfWriter().write(f)
    copy = d / "copy-of-good.pdf"
    shutil.copy(good, copy)
    return {
        "good": good,
        "not-a-pdf": not_pdf,
        "encrypted": encrypted,
        "corrupt": truncated,
        "no-pages": no_pages,
        "duplicate-document": copy,
        "unreadable": d / "missing.pdf",
    }


def test_each_bad_document_is_reported_and_the_good_one_comes_out(
    bad_inputs: dict[str, Path], tmp_path: Path
) -> None:
    funnel = Funnel(report_dir=tmp_path / "report")
    order = ["not-a-pdf", "encrypted", "good", "corrupt", "no-pages", "duplicate-document", "unreadable"]
    sources = [str(bad_inputs[name]) for name in order]

    pages = list(PdfExtractor(ExtractSettings(workers=1)).run(sources, funnel))
    funnel.close()

    assert [p.page for p in pages] == [1, 2, 3, 4]
    assert {p.source for p in pages} == {str(bad_inputs["good"])}
    assert all(p.method == "text-layer" and p.reason == "text-layer" for p in pages)
    assert "상해보험" in pages[0].text
    summary = funnel.stage_summary("extract")
    assert summary["in"] == len(order)
    assert summary["out"] == 1
    assert summary["rejected"] == {name: 1 for name in order if name != "good"}
    rows = list(read_rows(tmp_path / "report" / "extract.jsonl"))
    assert {row["record_id"]: row["reason"] for row in rows} == {
        str(bad_inputs[name]): name for name in order if name != "good"
    }
    assert all(row["detail"] for row in rows)
    duplicate = next(r for r in rows if r["reason"] == "duplicate-document")
    assert str(bad_inputs["good"]) in duplicate["detail"]


def test_document_error_carries_reason_and_detail(bad_inputs: dict[str, Path]) -> None:
    with pytest.raises(DocumentError) as raised:
        open_document(str(bad_inputs["encrypted"]), max_pages=2000)
    assert raised.value.reason == "encrypted"
    assert "password" in raised.value.detail
    with pytest.raises(DocumentError) as raised:
        open_document(str(bad_inputs["good"]), max_pages=3)
    assert raised.value.reason == "too-many-pages"
    assert "4 pages" in raised.value.detail


def test_too_many_pages_is_a_setting(bad_inputs: dict[str, Path]) -> None:
    funnel = Funnel()
    pages = list(PdfExtractor(ExtractSettings(max_pages=3)).run([str(bad_inputs["good"])], funnel))
    assert pages == []
    assert funnel.stage_summary("extract") == {"in": 1, "out": 0, "rejected": {"too-many-pages": 1}}


def test_resumed_documents_are_skipped_without_counting(bad_inputs: dict[str, Path]) -> None:
    funnel = Funnel()
    good = bad_inputs["good"]
    doc_id = sha256_of(good)
    pages = list(
        PdfExtractor().run([str(good), str(bad_inputs["duplicate-document"])], funnel, skip_doc_ids={doc_id})
    )
    assert pages == []
    assert funnel.stage_summary("extract") == {"in": 0, "out": 0, "rejected": {}}


def test_a_failing_ocr_page_is_rejected_alone(tmp_path: Path) -> None:
    # An image-only page and a language tesseract does not have: the page fails, the batch goes on.
    scan = write_image_pdf([typeset("제1조(목적) 이 약관은 시험용입니다.")[0].image], tmp_path / "scan.pdf")
    funnel = Funnel(report_dir=tmp_path / "report")
    settings = ExtractSettings(languages="nosuchlanguage", workers=1)
    pages = list(PdfExtractor(settings).run([str(scan), str(SAMPLE_POLICY)], funnel))
    funnel.close()
    assert {p.source for p in pages} == {str(SAMPLE_POLICY)}
    assert funnel.stage_summary("extract") == {"in": 2, "out": 1, "rejected": {"ocr-failed": 1}}
    [row] = read_rows(tmp_path / "report" / "extract.jsonl")
    assert row["record_id"] == f"{scan}#p1"
    assert "tesseract" in row["detail"].lower()
