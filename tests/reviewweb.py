"""A review store with real items for the review page's tests: the sample policy run in one process
with the in-memory extractive teacher under the `human` policy, so every item waits for a reviewer
(its chunks, its PDF and its evidence are real), and the HTTP app over it, served on a free port."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from corpus import SAMPLE_POLICY
from domainlm.childproc import free_port
from domainlm.evolution import EvolveSettings
from domainlm.fakes import ExtractiveTeacher
from domainlm.review import ReviewPolicy, ReviewSettings, ReviewStore
from domainlm.runner import PipelineRun, RunSettings
from domainlm_review.web.app import Wiring, create_app
from domainlm_review.web.serve import run_dir_wiring
from domainlm_review.web.settings import Account, HttpSettings

ADMIN, REVIEWER = "kim-token", "lee-token"


def human_run(out: Path) -> Path:
    """OUTPUT of a run whose items all wait for a human; returns its review store."""
    settings = RunSettings(review=ReviewSettings(policy=ReviewPolicy.HUMAN), evolve=EvolveSettings(depth=0))
    PipelineRun([SAMPLE_POLICY], out, settings, teacher=ExtractiveTeacher(), progress=False).run()
    return out / "review.sqlite"


def http_settings(**extra: object) -> HttpSettings:
    tokens = {ADMIN: Account(user="kim", role="admin"), REVIEWER: Account(user="lee")}
    return HttpSettings(tokens=tokens, max_upload_bytes=2_000_000, **extra)  # type: ignore[arg-type]


def wiring(store: ReviewStore, run: Path, published: list | None = None, **extra: object) -> Wiring:
    sink = published if published is not None else []
    return Wiring(store=store, settings=http_settings(**extra), publish=sink.append, **run_dir_wiring(run))


@contextlib.contextmanager
def serving(w: Wiring) -> Iterator[str]:
    """The app on a free port in this process; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(w), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/login", timeout=2).status_code == 200:
                break
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
