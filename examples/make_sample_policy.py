"""Renders the project's own sample policy into the demo PDFs.

sample-policy.txt becomes a PDF with a real text layer; sample-rider.txt becomes an image-only PDF that
looks like a poor office scan (blur, skew, noise, JPEG), so the demo exercises OCR too.

    .venv/bin/python examples/make_sample_policy.py

The PDF is committed, so the demo needs no rendering; re-run this after editing the text.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

HERE = Path(__file__).parent
FONT = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"
TITLE = "도메인LM 예시 상해보험 보통약관"


def render(text: str, out: Path) -> int:
    pdfmetrics.registerFont(TTFont("Nanum", FONT))
    c = canvas.Canvas(str(out), pagesize=A4)
    c.setTitle(TITLE)
    width, height = A4
    margin, leading, size = 56, 16, 10
    page, y = 1, height - margin

    def footer() -> None:
        c.setFont("Nanum", 8)
        c.drawString(margin, height - 30, TITLE)  # running header, as real 약관 have
        c.drawCentredString(width / 2, 28, f"- {page} -")

    footer()
    for para in text.splitlines():
        heading = para.startswith(("제", "도메인LM")) and (
            "관 " in para[:5] or para.endswith(")") or "약관" in para
        )
        lines = textwrap.wrap(para, 46) or [""]
        for line in lines:
            if y < margin + leading:
                c.showPage()
                page += 1
                y = height - margin
                footer()
            c.setFont("Nanum", size + (1 if heading else 0))
            c.drawString(margin, y, line)
            y -= leading
    c.save()
    return page


if __name__ == "__main__":
    from domainlm.extract.scans import scanned_pdf

    out = HERE / "sample-policy" / "domainlm-sample-policy.pdf"
    out.parent.mkdir(exist_ok=True)
    pages = render((HERE / "sample-policy.txt").read_text(encoding="utf-8"), out)
    print(f"wrote {out} ({pages} pages)")
    scan = HERE / "sample-policy" / "domainlm-sample-rider-scan.pdf"
    refs = scanned_pdf((HERE / "sample-rider.txt").read_text(encoding="utf-8"), scan, seed=7)
    print(f"wrote {scan} ({len(refs)} scanned page(s), no text layer)")
