"""Source chunks by id, read from the `chunks` topic: the evolver checks each evolution against its chunk.

Every replica reads the whole topic (no consumer group: it needs all chunks, not a share) from the
beginning, then follows it in a thread. Chunks are a few KB, so a million of them fit in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from domainlm.records import Chunk


class ChunkFeed(Mapping[str, Chunk]):
    def __init__(self, bootstrap: str, topic: str, client_config: dict[str, Any] | None = None) -> None:
        self.bootstrap, self.topic, self.client_config = bootstrap, topic, client_config or {}
        self._chunks: dict[str, Chunk] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="chunk-feed", daemon=True)
        self._thread.start()

    def __getitem__(self, key: str) -> Chunk:
        return self._chunks[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._chunks))

    def __len__(self) -> int:
        return len(self._chunks)

    def wait_for(self, ids: set[str], timeout_s: float) -> set[str]:
        """Waits until every id is read (chunks precede their samples, but the feed may lag); the missing."""
        deadline = time.monotonic() + timeout_s
        while (missing := ids - self._chunks.keys()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return missing

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _follow(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                 isolation_level="read_committed", **self.client_config)  # fmt: skip
        try:
            assigned: set[TopicPartition] = set()
            while not self._stop.is_set():
                parts = consumer.partitions_for_topic(self.topic) or set()
                wanted = {TopicPartition(self.topic, p) for p in parts}
                if wanted != assigned:  # the topic appeared or grew
                    consumer.assign(list(wanted))
                    consumer.seek_to_beginning(*(wanted - assigned))
                    assigned = wanted
                for records in consumer.poll(timeout_ms=500).values():
                    for r in records:
                        chunk = Chunk.model_validate_json(r.value)
                        self._chunks[chunk.id] = chunk
                if not assigned:
                    time.sleep(0.5)
        finally:
            consumer.close()
