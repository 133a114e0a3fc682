"""The dedup service's settings, from the environment (DOMAINLM_DEDUP_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from domainlm.dedup import MinhashConfig
from domainlm_chassis.service import WorkerSettings


class DedupServiceSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_DEDUP_", env_nested_delimiter="__")

    # Evolved samples come back through dedup, against the same index (samples.unique ⇄ samples.evolved).
    in_topic: str = "samples.verified,samples.evolved"
    out_topic: str = "samples.unique"
    group: str = "domainlm-dedup"
    max_poll_records: int = 256  # check-and-add holds the shared lock once per batch
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="the index every replica shares")
    namespace: str = Field("domainlm:dedup", description="Redis key prefix of the index")
    rejections_topic: str = Field("rejections", description="dropped near-duplicates, with their match")
    minhash: MinhashConfig = Field(default_factory=MinhashConfig)
