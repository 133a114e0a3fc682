"""The review service's settings, from the environment (DOMAINLM_REVIEW_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from domainlm.review import ReviewSettings
from domainlm_chassis.service import WorkerSettings
from domainlm_review.web.settings import HttpSettings


class ReviewServiceSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_REVIEW_", env_nested_delimiter="__")

    in_topic: str = "samples.generated"
    out_topic: str = "samples.verified"
    group: str = "domainlm-review"
    database_url: str = Field(
        "postgresql+psycopg://domainlm@127.0.0.1:5432/domainlm",
        description="the review store: a Postgres URL shared by replicas (sqlite:///FILE for one replica)",
    )
    rejections_topic: str = Field("rejections", description="items the checks or a reviewer rejected")
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    http: HttpSettings = Field(default_factory=HttpSettings, description="the review page and HTTP API")
    documents_topic: str = Field("documents", description="where PDFs uploaded over HTTP are produced")
    chunks_topic: str = Field(
        "chunks", description="read from the start, so the page shows each item's source chunk; empty: off"
    )
