"""Puts back the paragraph numbers (①②③) that tesseract's Korean model cannot read.

The kor model has no circled digits in its character set, so on scanned pages "① 회사는 ..." comes out
as "@ 회사는", "© 회사는", "0 회사는", "(2 회사는", or with the marker dropped (a bare leading space).
Those numbers are the 항 boundaries the chunker splits on, and they are the bulk of the remaining OCR
error, so each such line start is renumbered in order within its article (제N조 restarts the count).
"""

from __future__ import annotations

import re

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
# A short junk token (or nothing, leaving a leading space) where the marker was, then Hangul.
_MISREAD = re.compile(r"^(?:[@©®◎⑩()0-9Oo]{1,2} |\s)(?=[가-힣])")
_ARTICLE = re.compile(r"^\s*제\s*\d+\s*조")


def repair_paragraph_markers(text: str) -> str:
    """OCR text with misread paragraph markers at line starts replaced by ①, ②, ... per article.

    >>> repair_paragraph_markers("제3조(통지)\\n@ 회사는 알립니다.\\n© 계약자는 알립니다.")
    '제3조(통지)\\n① 회사는 알립니다.\\n② 계약자는 알립니다.'
    """
    out, count = [], 0
    for line in text.splitlines():
        if _ARTICLE.match(line):
            count = 0
        elif _MISREAD.match(line) and count < len(CIRCLED):
            line = f"{CIRCLED[count]} {_MISREAD.sub('', line, count=1)}"
            count += 1
        out.append(line)
    return "\n".join(out)
