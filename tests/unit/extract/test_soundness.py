"""When a page's text layer is trusted, and when the page goes to OCR instead."""

from __future__ import annotations

import pytest

from domainlm.extract.textlayer import SoundnessRules, flaw, is_rare_syllable, page_ranges

# pdftotext's reading of corpus 05, page 1: correct order, nothing odd.
SOUND = """xx. 실손의료보험 중지 및 재개 특별약관
제1조(목적)
이 특별약관은 개인실손의료보험주)(이하 ‘개인실손’이라 합니다)의 계약자(이하 ‘개인실손의 계약자’라 합니다)와 보험회
사(이하 ‘회사’라 합니다) 사이에 개인실손을 중지하거나 재개하는 계약을 체결하는 것을 목적으로 합니다.
제2조(계약중지에 관한 사항)
계약중지 청약일 기준으로 다음 각 호의 요건이 모두 충족되는 경우에는 개인실손의 계약자가 개인실손의 보장종목에 대해
보험료 납입 및 보장의 중지(이하 ‘계약중지’라 합니다)를 청약할 수 있습니다.
1. 개인실손의 계약자가 해당 개인실손을 최초 보장개시일로부터 1년 이상 유지 중인 경우"""

# pdfium's reading of the same page: article numbers pushed to the line end, circled paragraph
# numbers turned into rare syllables (숔, 숕).
GARBLED = """xx. 실손의료보험 중지 및 재개 특별약관
제 조 목적 1 ( )
이 특별약관은 개인실손의료보험주)
( ‘ ’ ) ( ‘ ’ ) 이하 개인실손 이라 합니다 의 계약자 이하 개인실손의 계약자 라 합니다 와 보험회
제 조 계약중지에 관한 사항 2 ( )
숔 계약중지 청약일 기준으로 다음 각 호의 요건이 모두 충족되는 경우에는 개인실손의 계약자가
 1. 1 개인실손의 계약자가 해당 개인실손을 최초 보장개시일로부터 년 이상 유지 중인 경우
 2. 1 제 호 개인실손의 피보험자가 단체실손의료보험주)
숕 제 항의 요건을 충족하는 개인실손의 계약자 이하 계약자 라 합니다 의 청약과 회사의 승낙으로"""


def test_pdftotext_reading_is_sound() -> None:
    assert flaw(SOUND) is None


def test_pdfium_reading_with_displaced_digits_is_flagged() -> None:
    assert flaw(GARBLED) == "displaced-digits"


def test_circled_numbers_as_rare_syllables_are_flagged() -> None:
    # Three paragraphs whose ①②③ came out as 숔숕숖, articles otherwise intact.
    text = SOUND + "\n숔 회사는 지급합니다.\n숕 계약자는 알려야 합니다.\n숖 이 경우에는 그러합니다."
    assert flaw(text) == "rare-syllables"


def test_euc_kr_codec_is_not_the_rare_syllable_test() -> None:
    # Python's euc-kr codec spells syllables outside KS X 1001 as 8-byte jamo sequences instead of
    # failing, so "encodes without error" would call every syllable common.
    "숔".encode("euc-kr")
    assert is_rare_syllable("숔") and is_rare_syllable("똠")
    assert not is_rare_syllable("가") and not is_rare_syllable("험") and not is_rare_syllable("A")


def test_one_rare_syllable_in_a_name_is_tolerated() -> None:
    assert flaw(SOUND + "\n담당자 똠양꿍") is None


@pytest.mark.parametrize("text", ["", "   \n\f", "- 3 -", "11", "보험 약관"])
def test_empty_or_near_empty_layer_is_flagged(text: str) -> None:
    assert flaw(text) == "empty-text-layer"


def test_a_page_of_private_use_glyphs_is_flagged() -> None:
    text = "제3조 " + "".join(chr(0xE000 + i % 200) for i in range(400))
    assert flaw(text) == "private-use-glyphs"


def test_a_few_private_use_bullets_are_tolerated() -> None:
    # Corpus 14 draws its circled paragraph numbers as U+F000: a handful per page of ordinary text.
    text = SOUND.replace("제2조", "\uf000 제2조").replace("1. ", "\uf000 1. ")
    assert flaw(text) is None


def test_mojibake_is_flagged() -> None:
    assert flaw(SOUND + "\ufffd" * 30) == "mojibake"
    assert flaw(SOUND + "\x01\x02\x03" * 10) == "mojibake"


def test_a_word_wrapped_between_lines_is_not_an_orphaned_article() -> None:
    # "제조" (manufacture) broken across a line, and one displaced number, occur in sound layers.
    text = (
        SOUND + "\n피보험자동차와 동급의 국내 제\n조 자동차에 사용하는 오일\n「자동차관리법」제 조의 에 따라"
    )
    assert flaw(text) is None


def test_unreadable_layer_has_its_own_reason() -> None:
    assert flaw(None) == "text-layer-unreadable"


def test_thresholds_are_settings() -> None:
    strict = SoundnessRules(max_private_use_share=0.0)
    assert flaw(SOUND + "\uf000", strict) == "private-use-glyphs"


def test_page_ranges_cover_every_page_once() -> None:
    for pages in (1, 4, 39, 40, 99, 273):
        for parts in (1, 2, 3, 16):
            ranges = page_ranges(pages, parts)
            covered = [p for first, last in ranges for p in range(first, last + 1)]
            assert covered == list(range(1, pages + 1))
            assert len(ranges) <= parts
