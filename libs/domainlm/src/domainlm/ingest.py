"""The `documents` topic contract: how other services hand domainlm a policy PDF.

A message is JSON: ``{"source": "보험약관/2026/상해.pdf", "pdf_base64": "..."}`` for a small PDF
inline, or ``{"source": ..., "uri": "file:///shared/inbox/상해.pdf"}`` for a large one on shared
storage, plus optional ``metadata`` (string to string). `source` is what the producer calls the file;
it travels into every page and chunk as provenance.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, Field, ValidationError, model_validator


class DocumentRejected(Exception):
    """The message cannot become a document; `reason` goes into the DLQ header."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class DocumentMessage(BaseModel):
    model_config = {"extra": "forbid"}

    source: str = Field(min_length=1, max_length=1024, description="the document's name at the producer")
    pdf_base64: str | None = Field(None, description="the PDF itself, base64; for small documents")
    uri: str | None = Field(
        None, description="file:// URI or absolute path on storage shared with the workers"
    )
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_body(self) -> Self:
        if (self.pdf_base64 is None) == (self.uri is None):
            raise ValueError("give exactly one of pdf_base64 and uri")
        return self

    def pdf_bytes(self, max_bytes: int) -> bytes:
        """The document's bytes, or DocumentRejected with the reason."""
        if self.pdf_base64 is not None:
            if len(self.pdf_base64) * 3 // 4 > max_bytes:
                raise DocumentRejected("oversize", f"inline PDF over {max_bytes} bytes; send a uri instead")
            try:
                return base64.b64decode(self.pdf_base64, validate=True)
            except (binascii.Error, ValueError) as e:
                raise DocumentRejected("bad-base64", str(e)) from e
        assert self.uri is not None
        parsed = urlparse(self.uri)
        if parsed.scheme not in ("", "file"):
            raise DocumentRejected("unsupported-uri", f"{self.uri}: only file:// and plain paths are read")
        path = Path(unquote(parsed.path))
        try:
            return path.read_bytes()
        except OSError as e:
            raise DocumentRejected("unreadable-uri", f"{self.uri}: {e}") from e


def parse_document_message(value: bytes) -> DocumentMessage:
    try:
        return DocumentMessage.model_validate_json(value)
    except ValidationError as e:
        reason = (
            "malformed-json"
            if any(err["type"] == "json_invalid" for err in e.errors())
            else "invalid-message"
        )
        raise DocumentRejected(reason, str(e)[:1000]) from e
