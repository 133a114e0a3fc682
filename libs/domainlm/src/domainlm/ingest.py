"""The `documents` topic contract: how other services hand domainlm a policy PDF.

A message is JSON: ``{"source": "보험약관/2026/상해.pdf", "pdf_base64": "..."}`` for a small PDF
inline, or ``{"source": ..., "uri": "file:///shared/inbox/상해.pdf"}`` for a large one on shared
storage, or ``"uri": "s3://bucket/key"`` in object storage (any S3-compatible endpoint from
:class:`ObjectStorage`, credentials from the environment as the AWS SDK reads them), plus optional
``metadata`` (string to string). `source` is what the producer calls the file; it travels into every
page and chunk as provenance.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, Field, ValidationError, model_validator


class ObjectStorage(BaseModel):
    """Where `s3://` references are read from. Credentials are not settings: the AWS SDK reads them from
    the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), a profile or the pod's role."""

    endpoint_url: str = Field(
        "", description="S3-compatible endpoint, e.g. http://seaweedfs:8333; empty: AWS"
    )
    region: str = Field("us-east-1", description="region for request signing")
    timeout_s: float = Field(30.0, gt=0, description="connect and read timeout per request")


class StorageUnavailable(Exception):
    """Object storage could not be reached: the document is sound and is tried again later."""


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
        None,
        description="s3://bucket/key, or a file:// URI or absolute path on storage shared with the workers",
    )
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_body(self) -> Self:
        if (self.pdf_base64 is None) == (self.uri is None):
            raise ValueError("give exactly one of pdf_base64 and uri")
        return self

    def pdf_bytes(self, max_bytes: int, storage: ObjectStorage | None = None) -> bytes:
        """The document's bytes, or DocumentRejected with the reason (StorageUnavailable when object
        storage cannot be reached)."""
        if self.pdf_base64 is not None:
            if len(self.pdf_base64) * 3 // 4 > max_bytes:
                raise DocumentRejected("oversize", f"inline PDF over {max_bytes} bytes; send a uri instead")
            try:
                return base64.b64decode(self.pdf_base64, validate=True)
            except (binascii.Error, ValueError) as e:
                raise DocumentRejected("bad-base64", str(e)) from e
        assert self.uri is not None
        parsed = urlparse(self.uri)
        if parsed.scheme == "s3":
            return read_object(self.uri, storage or ObjectStorage(), max_bytes)
        if parsed.scheme not in ("", "file"):
            raise DocumentRejected(
                "unsupported-uri", f"{self.uri}: only s3://, file:// and plain paths are read"
            )
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


def read_object(uri: str, storage: ObjectStorage, max_bytes: int) -> bytes:
    """An object's bytes; a missing object, denied access or an oversize one is DocumentRejected with
    its reason, an unreachable endpoint StorageUnavailable."""
    import boto3  # the SDK costs a second to import; only documents by reference need it
    import botocore.exceptions as errors
    from botocore.config import Config

    parsed = urlparse(uri)
    bucket, key = parsed.netloc, unquote(parsed.path.lstrip("/"))
    if not bucket or not key:
        raise DocumentRejected("bad-uri", f"{uri}: expected s3://bucket/key")
    # A session per document: credentials are read as they are now (rotated secrets, refreshed roles).
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=storage.endpoint_url or None,
        region_name=storage.region,
        config=Config(
            connect_timeout=storage.timeout_s, read_timeout=storage.timeout_s, retries={"max_attempts": 2}
        ),
    )
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        if int(head.get("ContentLength", 0)) > max_bytes:
            raise DocumentRejected("oversize", f"{uri}: {head['ContentLength']} bytes, over {max_bytes}")
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except errors.ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket") or status == 404:
            raise DocumentRejected("missing-object", f"{uri}: no such object") from e
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status == 403:
            raise DocumentRejected("access-denied", f"{uri}: {code or status}") from e
        raise StorageUnavailable(f"{uri}: {code or status}: {e}") from e
    except errors.NoCredentialsError as e:
        raise DocumentRejected("access-denied", f"{uri}: no credentials in the environment") from e
    except (errors.EndpointConnectionError, errors.ConnectTimeoutError, errors.ReadTimeoutError) as e:
        raise StorageUnavailable(f"{uri}: {e}") from e
