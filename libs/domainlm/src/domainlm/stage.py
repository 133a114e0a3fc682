"""The Stage contract: a stream of records in, a stream out, every drop accounted for in a Funnel.

The same stage objects run under the one-process runner, the stage CLIs over JSONL files, and (later)
the Kafka workers; none of them knows about transport.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from domainlm.funnel import Funnel

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)


class Stage(Protocol[In, Out]):
    """A step of the pipeline.

    Implementations call ``funnel.saw(name)`` for each record taken in, ``funnel.passed_on(name)``
    for each record yielded, and ``funnel.reject(name, reason, id)`` for each one dropped.
    """

    name: str

    def run(self, records: Iterable[In], funnel: Funnel) -> Iterator[Out]: ...
