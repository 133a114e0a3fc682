"""Runs an async function over a sync stream with bounded concurrency, yielding results as they finish.

Stages are plain iterators, but talking to a model server pays off only with many requests in flight;
this bridge keeps `limit` requests busy at all times (no batch barriers that would let the server idle).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
_DONE = object()


def map_concurrently(fn: Callable[[T], Awaitable[R]], items: Iterable[T], limit: int) -> Iterator[R]:
    """Results in completion order. An exception in `fn` stops the run and is re-raised here."""
    out: queue.Queue[object] = queue.Queue()

    async def produce() -> None:
        pending: set[asyncio.Task[R]] = set()

        def drain(done: set[asyncio.Task[R]]) -> None:
            for task in done:
                out.put(task.result())

        for item in items:
            if len(pending) >= limit:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                drain(done)
            pending.add(asyncio.ensure_future(fn(item)))
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            drain(done)

    def worker() -> None:
        try:
            asyncio.run(produce())
        except BaseException as e:  # handed to the consuming thread, which re-raises it
            out.put(e)
        out.put(_DONE)

    thread = threading.Thread(target=worker, name="map-concurrently", daemon=True)
    thread.start()
    while (result := out.get()) is not _DONE:
        if isinstance(result, BaseException):
            raise result
        yield result  # type: ignore[misc]
    thread.join()
