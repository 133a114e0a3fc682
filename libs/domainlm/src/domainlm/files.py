"""Writing files whole or not at all: a temporary file beside the target, flushed to disk, renamed over
it. A process killed mid-write (or a full disk) leaves the previous file, never half of a new one."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A file to write `path` through; it replaces `path` only when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per writer, hidden, and named so publish and cleanup can tell it is not a finished file.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with tmp.open(mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename itself is durable only once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text_atomic(path: Path, text: str) -> Path:
    with atomic_open(path) as f:
        f.write(text)
    return path


def write_json_atomic(path: Path, data: Any, indent: int | None = 2) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
