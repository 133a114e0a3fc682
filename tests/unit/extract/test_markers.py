"""Paragraph markers that tesseract's Korean model cannot read are put back in order."""

from __future__ import annotations

from domainlm.extract.markers import repair_paragraph_markers


def test_misread_markers_are_renumbered_per_article() -> None:
    ocr = "\n".join(
        ["제4조(보험금을 지급하지 않는 사유)", "0 회사는 지급하지 않습니다.", "1. 고의로 해친 경우", "@ 회사는 보상하지 않습니다.",
         " 계약자는 알려야 합니다.", "제5조(통지)", "(2 계약자는 지체 없이 알려야 합니다."]
    )  # fmt: skip
    assert repair_paragraph_markers(ocr).splitlines() == [
        "제4조(보험금을 지급하지 않는 사유)",
        "① 회사는 지급하지 않습니다.",
        "1. 고의로 해친 경우",
        "② 회사는 보상하지 않습니다.",
        "③ 계약자는 알려야 합니다.",
        "제5조(통지)",
        "① 계약자는 지체 없이 알려야 합니다.",
    ]


def test_ordinary_lines_are_left_alone() -> None:
    text = "1. 청구서(회사 양식)\n30일 이내에 지급합니다.\n가. 사망한 경우\nSMS로 알립니다."
    assert repair_paragraph_markers(text) == text
