"""The ocr service's settings, from the environment (DOMAINLM_OCR_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from domainlm.chunking import ChunkSettings
from domainlm.extract import ExtractSettings
from domainlm.ingest import ObjectStorage
from domainlm_chassis.service import WorkerSettings


class OcrServiceSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_OCR_", env_nested_delimiter="__")

    in_topic: str = "documents"  # PDFs, as domainlm.ingest describes them
    out_topic: str = "chunks"
    group: str = "domainlm-ocr"
    # One document per transaction: its chunks flow on as soon as it is done, not when a batch of
    # PDFs is (a 300-page scan takes minutes; the generator should not wait for the next one).
    max_poll_records: int = 1
    max_inline_bytes: int = Field(16 * 1024 * 1024, description="largest PDF accepted inline (base64)")
    s3: ObjectStorage = Field(
        default_factory=ObjectStorage, description="where s3:// document references are read"
    )
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
