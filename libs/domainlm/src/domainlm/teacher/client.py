"""A thin async client for the teacher with structured outputs, retries and a reachability check."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import openai

from domainlm.teacher.settings import TeacherSettings


class _Reasoned(RuntimeError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class TeacherError(_Reasoned):
    """One request failed after its retries; stages record `reason` for that item and go on."""


class TeacherUnavailable(_Reasoned):
    """There is no teacher to ask (nothing listens, or it does not serve the model): the run stops.

    Not a TeacherError on purpose: stages must not turn it into one rejection per chunk.
    """


@dataclass
class Completion:
    content: str
    finish_reason: str
    completion_tokens: int
    prompt_tokens: int = 0


class Teacher(Protocol):
    """What stages need of a teacher; `TeacherClient`, `LazyTeacher` and test fakes have it."""

    @property
    def settings(self) -> TeacherSettings: ...

    async def complete_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], schema_name: str
    ) -> Completion: ...


class TeacherClient:
    """Chat completions constrained by a JSON schema.

    The OpenAI SDK already retries connection errors, 408/409/429 and 5xx with exponential backoff
    and jitter, so retries are its `max_retries`, not a loop of ours.
    """

    def __init__(self, settings: TeacherSettings) -> None:
        if not settings.base_url or not settings.model:
            raise ValueError("the teacher needs a base URL and a model name (--teacher-url, --teacher-model)")
        self.settings = settings
        # Per thread: a service runs a Kafka batch and gRPC calls at once, each on its own thread and loop.
        self._local = threading.local()

    def _client_for_this_loop(self) -> openai.AsyncOpenAI:
        # An async HTTP pool belongs to the event loop that opened it; each stage run has its own loop.
        loop = asyncio.get_running_loop()
        mine = self._local
        if getattr(mine, "loop", None) is not loop:
            s = self.settings
            mine.loop = loop
            # The SDK's own connection pool (up to 1000 connections) is ample for `concurrency` requests.
            mine.client = openai.AsyncOpenAI(
                base_url=s.base_url, api_key=s.api_key, max_retries=s.max_retries, timeout=s.timeout_s
            )
        client: openai.AsyncOpenAI = mine.client
        return client

    def check_reachable(self) -> None:
        """Fails fast with a clear message instead of retrying every chunk against a dead server."""
        url = self.settings.base_url.rstrip("/") + "/models"
        try:
            r = httpx.get(url, headers={"Authorization": f"Bearer {self.settings.api_key}"}, timeout=10)
            r.raise_for_status()
        except httpx.HTTPError as e:
            raise TeacherUnavailable("teacher-unreachable", f"{url}: {e}") from e
        served = [m.get("id") for m in r.json().get("data", [])]
        if served and self.settings.model not in served:
            raise TeacherUnavailable(
                "teacher-model-missing", f"{self.settings.model!r} is not served at {url} (serves {served})"
            )

    async def complete_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], schema_name: str
    ) -> Completion:
        s = self.settings
        resp = await self._create(
            messages=messages,
            temperature=s.temperature,
            max_tokens=s.max_tokens,
            seed=s.seed,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            },
        )
        choice = resp.choices[0]
        used, prompt = (resp.usage.completion_tokens, resp.usage.prompt_tokens) if resp.usage else (0, 0)
        return Completion(choice.message.content or "", choice.finish_reason or "", used, prompt)

    async def complete_texts(
        self, messages: list[dict[str, str]], n: int, temperature: float, max_tokens: int
    ) -> list[str]:
        """`n` free-text answers sampled for one request (e.g. from the SFT model, for DPO negatives)."""
        resp = await self._create(messages=messages, n=n, temperature=temperature, max_tokens=max_tokens)
        return [c.message.content or "" for c in resp.choices]

    async def _create(self, **request: Any) -> Any:
        """One chat completion; the SDK's errors become TeacherErrors with a reason code."""
        try:
            return await self._client_for_this_loop().chat.completions.create(
                model=self.settings.model, **request
            )
        except openai.APIConnectionError as e:
            raise TeacherError("teacher-unreachable", str(e)) from e
        except openai.APIStatusError as e:
            raise TeacherError(f"teacher-http-{e.status_code}", str(e)[:500]) from e
        except openai.APIError as e:
            raise TeacherError("teacher-error", str(e)[:500]) from e
