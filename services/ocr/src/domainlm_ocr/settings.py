"""The ocr service's settings, from the environment (DOMAINLM_OCR_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domainlm.chunking import ChunkSettings
from domainlm.extract import ExtractSettings


class OcrServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_OCR_", env_nested_delimiter="__")

    bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    in_topic: str = Field("documents", description="PDFs arrive here (see domainlm.ingest)")
    out_topic: str = Field("chunks", description="chunks are produced here, keyed by chunk id")
    group: str = Field("domainlm-ocr", description="consumer group: replicas split the partitions")
    max_poll_records: int = Field(16, ge=1, description="messages per batch; offsets are committed per batch")
    max_inline_bytes: int = Field(16 * 1024 * 1024, description="largest PDF accepted inline (base64)")
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
