"""The ocr service: PDFs from the `documents` topic become chunks on the `chunks` topic."""
