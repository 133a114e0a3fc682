"""Teacher settings, from arguments or DOMAINLM_TEACHER_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TeacherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINLM_TEACHER_")

    base_url: str = Field("", description="OpenAI-compatible base URL, e.g. http://vllm:8000/v1")
    model: str = Field("", description="served model name, e.g. meta-llama/Llama-3.3-70B-Instruct")
    api_key: str = Field("EMPTY", description="bearer token; vLLM accepts any unless --api-key is set")
    concurrency: int = Field(32, ge=1, description="requests in flight; enough to keep the server busy")
    max_retries: int = Field(4, ge=0, description="retries with exponential backoff per request")
    timeout_s: float = Field(300.0, description="per-request timeout")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(1536, description="completion budget per request")
    seed: int | None = Field(
        None, description="sampling seed where supported (not on vLLM CPU 0.32: it crashes the worker)"
    )
