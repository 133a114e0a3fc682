"""Numbers with their units (periods, amounts, rates, ages, counts), read the same way in answer and source.

A swapped number (15일 for 30일) or unit (30개월 for 30일) keeps almost every character bigram of a
correct answer, so only reading the quantities themselves catches it.
"""

from __future__ import annotations

import re

# Longest units first, so 개월 is not read as 월 and 영업일 not as 일.
_UNITS = "영업일|개월|주일|시간|년|월|일|주|세|살|%|퍼센트|억원|천만원|백만원|만원|천원|원|회|배|분|개|건|명|km|㎞|cc"
QUANTITY = re.compile(rf"(?<![\d.,])(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)\s*({_UNITS})")
_SCALE = {"억원": 100_000_000, "천만원": 10_000_000, "백만원": 1_000_000, "만원": 10_000, "천원": 1_000}
_SAME = {"퍼센트": "%", "살": "세", "㎞": "km", "주일": "주"}


def quantities(text: str) -> set[tuple[float, str]]:
    """(value, unit) pairs, amounts scaled to 원 so that 10만원 and 100,000원 agree.

    >>> sorted(quantities("계약일부터 30일 이내, 보험료의 10% 또는 10만원"))
    [(10.0, '%'), (30.0, '일'), (100000.0, '원')]
    """
    found: set[tuple[float, str]] = set()
    for m in QUANTITY.finditer(text):
        value, unit = float(m.group(1).replace(",", "")), m.group(2)
        if unit in _SCALE:
            value, unit = value * _SCALE[unit], "원"
        found.add((value, _SAME.get(unit, unit)))
    return found


def quantity_mismatch(answer: str, source: str) -> str | None:
    """Why a quantity of the answer is not in the source, or None when every one is there."""
    have = quantities(source)
    for value, unit in sorted(quantities(answer)):
        if (value, unit) in have:
            continue
        units = sorted({u for v, u in have if v == value})
        shown = f"{value:g}{unit}"
        if units:
            return (
                f"unit-mismatch: {shown} is in the source only as {', '.join(f'{value:g}{u}' for u in units)}"
            )
        return f"number-mismatch: {shown} is not in the source"
    return None
