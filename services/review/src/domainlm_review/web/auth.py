"""Sign-in and request checks: API tokens (Bearer, or the session cookie the sign-in form sets), or an
authenticating proxy's user header from a trusted address; CSRF for what a browser sends."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Literal

from fastapi import HTTPException, Request

from domainlm_review.web.settings import HttpSettings

SESSION, CSRF = "domainlm_session", "domainlm_csrf"


@dataclass(frozen=True)
class User:
    name: str
    role: Literal["reviewer", "admin"]
    via: Literal["bearer", "cookie", "proxy"]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _trusted(address: str | None, proxies: list[str]) -> bool:
    if not address or not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(p, strict=False) for p in proxies)


def _by_token(token: str, settings: HttpSettings) -> tuple[str, str] | None:
    for known, account in settings.tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):  # constant time
            return account.user, account.role
    return None


def authenticate(request: Request, settings: HttpSettings) -> User | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = _by_token(header[7:].strip(), settings)
        return User(found[0], found[1], "bearer") if found else None  # type: ignore[arg-type]
    if (cookie := request.cookies.get(SESSION)) and (found := _by_token(cookie, settings)):
        return User(found[0], found[1], "cookie")  # type: ignore[arg-type]
    client = request.client.host if request.client else None
    if (name := request.headers.get(settings.user_header)) and _trusted(client, settings.trusted_proxies):
        return User(name, "admin" if name in settings.admins else "reviewer", "proxy")
    return None


def check_csrf(request: Request, user: User) -> None:
    """A browser's state-changing request must echo the CSRF cookie in a header (double submit): another
    site can make the browser send the cookies, but cannot read them. Bearer clients are not browsers."""
    if user.via == "bearer":
        return
    cookie, header = request.cookies.get(CSRF, ""), request.headers.get("x-csrf-token", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise HTTPException(
            403, "missing or wrong CSRF token (send the domainlm_csrf cookie as X-CSRF-Token)"
        )


def new_csrf() -> str:
    return secrets.token_urlsafe(24)
