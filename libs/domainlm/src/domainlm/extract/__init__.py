"""PDF → pages: the text layer where it is sound, tesseract OCR (kor+eng) where it is not.

    extractor = PdfExtractor(ExtractSettings(dpi=300, languages="kor+eng"))
    for page in extractor.run(paths, funnel, progress=True): ...

Modules: documents (open and validate, DocumentError), textlayer (pdftotext and its soundness
check), ocr (render, clean-up, tesseract), tessdata (language data), extractor (the stage and its
process pool), settings, scans (synthetic scans for tests and benchmarks), quality (error rate).
"""

from domainlm.extract.documents import DocumentError
from domainlm.extract.extractor import PdfExtractor
from domainlm.extract.quality import character_error_rate
from domainlm.extract.settings import ExtractSettings

__all__ = ["DocumentError", "ExtractSettings", "PdfExtractor", "character_error_rate"]
