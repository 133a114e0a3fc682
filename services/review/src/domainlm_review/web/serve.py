"""`domainlm review serve`: the review page and API over a one-process run's store.

Decisions go into the store; the next `domainlm run` on the same output directory reads them and
carries the verified items on. Uploaded PDFs land in the run's inbox/ for that next run.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import typer

from domainlm.jsonl import read_models
from domainlm.records import Chunk


def run_dir_wiring(run: Path) -> dict[str, Any]:
    chunks_path, funnel_path, inbox = run / "chunks.jsonl", run / "funnel.json", run / "inbox"

    @lru_cache(maxsize=1)
    def chunks(mtime: float) -> dict[str, Chunk]:
        return {c.id: c for c in read_models(chunks_path, Chunk)} if chunks_path.exists() else {}

    def chunk(chunk_id: str) -> Chunk | None:
        mtime = chunks_path.stat().st_mtime if chunks_path.exists() else 0.0
        return chunks(mtime).get(chunk_id)

    def status() -> dict[str, Any]:
        funnel = json.loads(funnel_path.read_text()) if funnel_path.exists() else {}
        return {"run": str(run), "funnel": funnel}

    def accept_document(name: str, data: bytes) -> dict[str, Any]:
        doc_id = hashlib.sha256(data).hexdigest()
        inbox.mkdir(parents=True, exist_ok=True)
        target = inbox / name
        if target.exists() and target.read_bytes() != data:  # another file of that name: keep both
            target = inbox / f"{doc_id[:12]}-{name}"
        target.write_bytes(data)
        return {"doc_id": doc_id, "source": str(target),
                "next": f"domainlm run --input {inbox} --output {run}"}  # fmt: skip

    return {"chunk": chunk, "status": status, "accept_document": accept_document}


def serve(
    store: Annotated[Path, typer.Option(help="the run's review store (OUTPUT/review.sqlite)")],
    port: Annotated[int, typer.Option(help="HTTP port")] = 8080,
    host: Annotated[str, typer.Option(help="listen address (0.0.0.0: every interface)")] = "127.0.0.1",
    token: Annotated[
        list[str] | None,
        typer.Option(help="TOKEN=USER[:admin] (repeatable); none given: one admin token is made and printed"),
    ] = None,
    pdf_dir: Annotated[list[Path] | None, typer.Option(help="where source PDFs are, by name")] = None,
) -> None:
    """Serve the review page and its HTTP API (OpenAPI at /docs) over a run's review store."""
    import uvicorn

    from domainlm.review import ReviewStore
    from domainlm_review.web.app import Wiring, create_app
    from domainlm_review.web.settings import Account, HttpSettings

    if not store.exists():
        raise typer.BadParameter(
            f"{store} does not exist: run `domainlm run` first (it writes OUTPUT/review.sqlite)"
        )
    accounts: dict[str, Account] = {}
    for item in token or []:
        secret, _, who = item.partition("=")
        user, _, role = who.partition(":")
        if not secret or not user or role not in ("", "admin", "reviewer"):
            raise typer.BadParameter(f"{item!r}: want TOKEN=USER or TOKEN=USER:admin")
        accounts[secret] = Account(user=user, role=role or "reviewer")
    if not accounts:
        made = secrets.token_urlsafe(18)
        accounts[made] = Account(user="admin", role="admin")
        typer.echo(f"sign in at http://{host}:{port}/login with the token {made}", err=True)
    settings = HttpSettings(port=port, host=host, tokens=accounts, pdf_dirs=pdf_dir or [])
    app = create_app(Wiring(store=ReviewStore(store), settings=settings, **run_dir_wiring(store.parent)))
    typer.echo(f"review page at http://{host}:{port}/ (API: /docs); Ctrl-C stops it", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
