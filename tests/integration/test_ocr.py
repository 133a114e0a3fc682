"""OCR on real image-only pages and on simulated scans of known text; text layers where sound."""

from __future__ import annotations

from pathlib import Path

import pytest
from rapidfuzz import fuzz

from corpus import corpus_pdf
from domainlm.extract import PdfExtractor, character_error_rate
from domainlm.extract.scans import sample_lines, scanned_pdf
from domainlm.extract.textlayer import read_text_layer
from domainlm.funnel import Funnel
from domainlm.records import Page

pytestmark = pytest.mark.integration

# Corpus 14, page 12 ("보험 주요 민원 사례"), the body text of its cases, read off the page image.
PAGE_12_LINES = """\
P씨는 대수롭지 않은 치료라는 생각으로
가입 전 병원 진료에 대해 알리지 않고 가입하였다가
추후 보상시 면책 안내되어 불만 제기
계약전 알릴의무는 상법 제651조(고지의무위반으로 인한
계약해지)에서 정하고 있는 의무사항으로
임의 판단으로 누락시에는 보험계약의 해지 또는
보험금 부지급 등 불이익을 당할 수 있습니다
A씨는 지인인 B설계사의 설명을 듣고 남편을 피보험자로
하여 보험가입을 원했으나 남편 설득이 여의치 않자 A씨가
피보험자 서명을 대필하여 보험가입하였고 추후 보상시
문제가 될 수 있다는 내용을 인지하고 불만 제기
피보험자의 서면동의를 받지 않으면 보상시 불이익이 있을
수 있으므로, 반드시 피보험자의 동의를 받으셔야 합니다
P씨는 갱신 담보 보험료 인상에 대한 설명을 듣지 못했는데
과도하게 인상됐다며 불만 제기
갱신형특약의 보험료는 갱신도래시 연령증가, 손해율,
의료수가 상승 등에 따라 일반적으로 증가 할 수 있습니다.
가입 전 고객님께 안내드리는 가입설계서 상의 갱신형특약
예상보험료는 가입시점 기준으로 고객님의 이해를 돕기위한
자료임으로 가입전 참고해 주시기 바랍니다.
K씨는 설계사에게 피보험자 변경을 해달라고 말해놓고 잊고
있었다가 추후 누락된 사실을 인지하고 불만 제기
계약의 변경은 반드시 서면으로 요청하셔야 하며, 변경 내용에
대해 증권 또는 배서승인서 등을 통해 확인하셔야 합니다.
K씨는 직업이 변경되어 보험사에 통지하였으나 직업의
위험도가 변경되어 현재 계약의 보험료 및 담보가 변경됨을
안내받고 불만 제기
표준약관(상해보험 계약 후 알릴의무)에 근거하여 직업
급수(위험도)에 따라 보험료의 증액을 청구하거나 계약의
해지 등 가입조건이 변경될 수 있습니다""".splitlines()


def line_error(reference_lines: list[str], text: str) -> float:
    """Mean, over reference lines, of 1 - the best partial match against any OCR line.

    The page is laid out in two columns (a label such as 유의 사항 beside each case), which OCR
    reads row by row, so a page-level error rate would mostly score the interleaving of labels.
    """
    ocr_lines = [line.replace(" ", "") for line in text.splitlines() if line.strip()]
    scores = [
        max(fuzz.partial_ratio(ref.replace(" ", ""), line) for line in ocr_lines) for ref in reference_lines
    ]
    return 1 - sum(scores) / len(scores) / 100


@pytest.fixture(scope="module")
def corpus14_pages() -> dict[int, Page]:
    pdf = corpus_pdf("14")
    funnel = Funnel()
    pages = {p.page: p for p in PdfExtractor().run([str(pdf)], funnel)}
    assert funnel.stage_summary("extract") == {"in": 1, "out": 1, "rejected": {}}
    return pages


def test_image_only_page_12_is_ocred(corpus14_pages: dict[int, Page]) -> None:
    page = corpus14_pages[12]
    assert page.method == "ocr" and page.reason == "ocr:empty-text-layer"
    assert page.confidence is not None and page.confidence > 70
    squeezed = page.text.replace(" ", "")  # tesseract's spacing of Korean varies
    for words in (
        "알릴",
        "유의사항",
        "자필서명",
        "미이행",
        "상법제651조",
        "피보험자의서면동의",
        "배서승인서",
    ):
        assert words in squeezed
    assert line_error(PAGE_12_LINES, page.text) <= 0.04


def test_image_only_cover_page_273_is_ocred(corpus14_pages: dict[int, Page]) -> None:
    # The back cover: white and teal text on a dark panel, the insurer's name below.
    page = corpus14_pages[273]
    assert page.method == "ocr"
    assert "Petpermint" in page.text
    assert "meritz" in page.text
    assert "화재" in page.text


def test_sound_pages_of_the_same_document_keep_their_text_layer(corpus14_pages: dict[int, Page]) -> None:
    assert len(corpus14_pages) == 273
    methods = [p.method for p in corpus14_pages.values()]
    assert methods.count("ocr") == 9  # 12 and 273, and seven near-blank pages with only a number
    assert corpus14_pages[55].method == "text-layer"
    assert "제4조(보험금 지급에 관한 세부규정)" in corpus14_pages[55].text


def test_simulated_scans_of_known_text(tmp_path: Path) -> None:
    # Two pages of corpus text typeset at 10 pt, blurred, skewed 1-2 degrees, noised, JPEG q40.
    text = read_text_layer(corpus_pdf("05"), pages=2).pages
    assert all(text)
    references = scanned_pdf(sample_lines(p or "" for p in text), tmp_path / "scan.pdf", seed=7)[:2]
    pages = list(PdfExtractor().run([str(tmp_path / "scan.pdf")], Funnel()))[:2]
    assert [p.method for p in pages] == ["ocr", "ocr"]
    rates = [character_error_rate(ref, page.text) for ref, page in zip(references, pages, strict=True)]
    assert max(rates) <= 0.04, rates


def test_text_layer_pages_of_corpus_01() -> None:
    pages = list(PdfExtractor().run([str(corpus_pdf("01"))], Funnel()))
    assert len(pages) == 99
    text_layer = [p.page for p in pages if p.method == "text-layer"]
    # The cover (an image) and a page of formulas drawn in a private-use symbol font are OCRed.
    assert sorted(set(range(1, 100)) - set(text_layer)) == [1, 36]
    assert all(p.reason == "text-layer" and p.confidence is None for p in pages if p.method == "text-layer")
    assert "제55조(약관의 해석)" in pages[30].text


def test_text_layer_in_reading_order_where_pdfium_garbles() -> None:
    pages = list(PdfExtractor().run([str(corpus_pdf("05")), str(corpus_pdf("10"))], Funnel()))
    by_doc = {(Path(p.source).name[:2], p.page): p for p in pages}
    assert all(p.method == "text-layer" for p in pages)
    assert "제1조(목적)" in by_doc["05", 1].text
    assert "제2조(계약중지에 관한 사항)" in by_doc["05", 1].text
    assert "제6조(보험금 지급사유의 통지)" in by_doc["10", 11].text
