"""A teacher that connects (or starts a local one) on its first request.

A resumed run whose teacher work is all recorded sends no request, so it never starts a server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from domainlm.teacher.client import Completion, Teacher
from domainlm.teacher.settings import TeacherSettings


class LazyTeacher:
    """Has what stages use of a `TeacherClient`: `settings` and `complete_json`."""

    def __init__(self, connect: Callable[[], Teacher], settings: TeacherSettings) -> None:
        self._connect, self._settings = connect, settings
        self._client: Teacher | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def settings(self) -> TeacherSettings:
        # Once connected, the real teacher's: a local teacher's model name is known only then.
        return self._client.settings if self._client is not None else self._settings

    async def complete_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], schema_name: str
    ) -> Completion:
        if self._client is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._client is None:
                    self._client = await asyncio.to_thread(self._connect)
        return await self._client.complete_json(messages, schema, schema_name)
