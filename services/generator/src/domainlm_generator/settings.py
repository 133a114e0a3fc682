"""The generator service's settings, from the environment (DOMAINLM_GENERATOR_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domainlm.generation import GenerateSettings
from domainlm.teacher import TeacherSettings


class GeneratorServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_GENERATOR_", env_nested_delimiter="__")

    bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    in_topic: str = Field("chunks", description="chunks arrive here, keyed by chunk id")
    out_topic: str = Field("samples.generated", description="samples go here, keyed by sample id")
    rejections_topic: str = Field("rejections", description="every item that failed a check, with its reason")
    group: str = Field("domainlm-generator", description="consumer group: replicas split the partitions")
    max_poll_records: int = Field(32, ge=1, description="chunks per batch, sent to the teacher concurrently")
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
