"""Who may use the review page and API, and how the HTTP server runs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class Account(BaseModel):
    user: str = Field(min_length=1)
    role: Literal["reviewer", "admin"] = "reviewer"


class HttpSettings(BaseModel):
    port: int = Field(8080, ge=0, description="HTTP port of the review page and API; 0 turns it off")
    host: str = Field("0.0.0.0", description="listen address")
    tokens: dict[str, Account] = Field(
        default_factory=dict,
        description='API tokens (JSON): {"TOKEN": {"user": "kim", "role": "admin"}}; role reviewer or admin',
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or CIDRs of an authenticating proxy (oauth2-proxy) whose user header is believed",
    )
    user_header: str = Field("X-Forwarded-User", description="the proxy's header naming the user")
    admins: list[str] = Field(default_factory=list, description="users signed in by the proxy who are admins")
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1, description="largest PDF POST /v1/documents takes")
    pdf_dirs: list[Path] = Field(
        default_factory=list,
        description="where the review page finds source PDFs by name, to render their pages",
    )
