"""The review page's rendered source page: the evidence boxed on a text-layer page (pdfium's text
positions) and on a scanned page (tesseract's word boxes), and nothing boxed for text the page lacks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from corpus import ROOT
from domainlm_review.web.pages import evidence_page, render

TEXT_PDF = ROOT / "examples" / "sample-policy" / "domainlm-sample-policy.pdf"
SCAN_PDF = ROOT / "examples" / "sample-policy" / "domainlm-sample-rider-scan.pdf"


def boxed(png: bytes) -> np.ndarray:
    """Where the red box outline is: (rows, cols) of its pixels."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    return np.argwhere(red)


@pytest.mark.parametrize(
    ("pdf", "evidence", "band"),
    [
        # two lines on the text-layer page: the box spans the line break
        (
            TEXT_PDF,
            "이 약관은 domainlm 프로젝트가 시연과 시험을 위해 직접 작성한 예시 약관입니다.",
            (0.08, 0.16),
        ),
        # the scan has no text layer: tesseract's words place the box
        (
            SCAN_PDF,
            "피보험자가 동일한 상해로 두 번 이상 입원한 경우에는 이를 하나의 입원으로 보아",
            (0.2, 0.45),
        ),
    ],
    ids=["text-layer", "scan"],
)
def test_the_evidence_is_boxed_where_it_stands(pdf: Path, evidence: str, band: tuple[float, float]) -> None:
    png = render(pdf, 1, evidence)
    where = boxed(png)
    height = Image.open(io.BytesIO(png)).height
    assert len(where) > 200, "no box drawn"
    top, bottom = where[:, 0].min() / height, where[:, 0].max() / height
    assert band[0] <= top and bottom <= band[1], (top, bottom)


def test_nothing_is_boxed_for_text_the_page_lacks_and_pages_are_checked() -> None:
    assert len(boxed(render(TEXT_PDF, 1, "이 문장은 어느 약관에도 없는 임의의 문장입니다 ZQX"))) == 0
    with pytest.raises(IndexError):
        render(TEXT_PDF, 99, "보험금")
    assert evidence_page(TEXT_PDF, [1, 2], "피보험자가 고의로 자신을 해친 경우") in (1, 2)
    assert evidence_page(TEXT_PDF, [1, 2], "없는 문장 ZQX") is None
