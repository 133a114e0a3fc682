"""The character error rate used by the OCR tests and benchmark."""

from __future__ import annotations

import pytest

from domainlm.extract import character_error_rate


def test_whitespace_does_not_count() -> None:
    # Tesseract splits and joins Korean words freely; only characters are scored.
    assert character_error_rate("제1조(목적) 이 약관은", "제1조 (목적)\n이약관은") == 0.0


def test_edits_over_reference_length() -> None:
    assert character_error_rate("보험금지급", "보험긍지급") == pytest.approx(1 / 5)
    assert character_error_rate("보험금", "보험금을드립니다") == pytest.approx(5 / 3)


def test_composed_and_decomposed_hangul_are_equal() -> None:
    assert character_error_rate("한글", "\u1112\u1161\u11ab\u1100\u1173\u11af") == 0.0


def test_empty_reference() -> None:
    assert character_error_rate("", " ") == 0.0
    assert character_error_rate("", "x") == 1.0
