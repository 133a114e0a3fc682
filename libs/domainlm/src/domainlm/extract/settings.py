"""Settings of the extract stage."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from domainlm.extract.ocr import OcrOptions
from domainlm.extract.textlayer import SoundnessRules


class ExtractSettings(BaseModel):
    dpi: int = Field(300, ge=72, le=1200, description="rasterisation resolution for OCR")
    languages: str = Field("kor+eng", description="tesseract languages, main language first")
    workers: int | None = Field(
        None, ge=1, description="OCR processes (one tesseract thread each) [default: all cores]"
    )
    max_pages: int = Field(2000, ge=1, description="documents with more pages are refused")
    psm: int = Field(6, ge=0, le=13, description="tesseract page segmentation mode")
    no_word_list: list[str] = Field(
        default_factory=lambda: ["eng"],
        description="secondary languages read without their dictionary (see extract/tessdata.py)",
    )
    tessdata_cache: Path | None = Field(None, description="where derived tesseract data is kept")
    ocr_timeout_s: float = Field(300.0, gt=0, description="a page whose OCR takes longer is rejected")
    # Image clean-up before OCR; each step is on because it measured better (extract/ocr.py).
    blur: bool = True
    deskew: bool = True
    binarise: bool = True
    invert_dark: bool = True
    # When a page's text layer is not used (extract/textlayer.py).
    min_chars: int = Field(30, ge=0, description="fewer visible characters: the page is OCRed")
    max_mojibake_share: float = Field(0.01, ge=0, description="U+FFFD and control characters")
    max_private_use_share: float = Field(0.02, ge=0, description="private-use glyphs U+E000-U+F8FF")
    max_rare_syllables: int = Field(2, ge=0, description="Hangul syllables outside KS X 1001")
    max_orphaned_articles: int = Field(1, ge=0, description='"제 조" with its number displaced')

    def soundness(self) -> SoundnessRules:
        return SoundnessRules(**self._fields_of(SoundnessRules))

    def ocr_options(self, tessdata_dir: Path | None = None) -> OcrOptions:
        return OcrOptions(
            **self._fields_of(OcrOptions),
            timeout_s=self.ocr_timeout_s,
            tessdata_dir=str(tessdata_dir) if tessdata_dir else None,
        )

    def _fields_of(self, cls: type[Any]) -> dict[str, Any]:
        # The settings are flat (one env variable or CLI option each); the parts take what they name.
        names = {f.name for f in dataclasses.fields(cls)}
        return {k: v for k, v in self.model_dump().items() if k in names}
