"""The generator service's settings, from the environment (DOMAINLM_GENERATOR_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from domainlm.checks.judge import JudgeSettings
from domainlm.generation import GenerateSettings
from domainlm.teacher import TeacherSettings
from domainlm_chassis.service import WorkerSettings


class GeneratorServiceSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_GENERATOR_", env_nested_delimiter="__")

    in_topic: str = "chunks"
    out_topic: str = "samples.generated"
    group: str = "domainlm-generator"
    max_poll_records: int = 32  # a batch goes to the teacher concurrently
    rejections_topic: str = Field("rejections", description="every item that failed a check, with its reason")
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    judge: JudgeSettings = Field(
        default_factory=JudgeSettings,
        description="the LLM judge: on unless JUDGE__ENABLED=false; the teacher unless a URL is set",
    )
