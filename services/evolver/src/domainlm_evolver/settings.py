"""The evolver service's settings, from the environment (DOMAINLM_EVOLVER_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from domainlm.evolution import EvolveSettings
from domainlm.teacher import TeacherSettings
from domainlm_chassis.service import WorkerSettings


class EvolverServiceSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_EVOLVER_", env_nested_delimiter="__")

    in_topic: str = "samples.unique"
    out_topic: str = "samples.evolved"
    group: str = "domainlm-evolver"
    max_poll_records: int = 16  # a batch goes to the teacher concurrently
    chunks_topic: str = Field(
        "chunks", description="read from the start: every evolution is checked against its chunk"
    )
    chunk_wait_s: float = Field(30.0, description="how long a sample waits for its chunk to be read")
    rejections_topic: str = Field("rejections", description="evolutions that failed a check, with the reason")
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    evolve: EvolveSettings = Field(default_factory=EvolveSettings)
