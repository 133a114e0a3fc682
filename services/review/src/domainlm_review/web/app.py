"""The review HTTP API and page (FastAPI; OpenAPI at /openapi.json).

One app for both modes: the review service passes a `publish` that produces a decided item to
`samples.verified` (or its rejection), exactly as the gRPC Decide does, and a `documents` sink that
produces to the documents topic; `domainlm review serve` passes a no-op publish (the next `domainlm run`
reads the decisions from the store) and a sink that drops uploads into the run's inbox.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at definition, and the
# dependencies they name (user, writer, admin) are local to create_app.
import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from domainlm.records import Chunk, ReviewState, Sample
from domainlm.review.queries import ItemFilter, Page
from domainlm.review.store import Decision, ReviewStore, StaleVersion, StoredItem, UndoRefused
from domainlm_review.web import pages
from domainlm_review.web.auth import CSRF, SESSION, User, authenticate, check_csrf, new_csrf
from domainlm_review.web.settings import HttpSettings

STATIC = Path(__file__).parent / "static"
REJECT_REASONS = ("wrong-answer", "not-in-source", "unclear-question", "duplicate", "off-topic", "other")


@dataclass
class Wiring:
    """What differs between the service and the one-process mode."""

    store: ReviewStore
    settings: HttpSettings
    publish: Callable[[Sample], None] = lambda sample: None
    accept_document: Callable[[str, bytes], dict[str, Any]] | None = None
    chunk: Callable[[str], Chunk | None] = lambda chunk_id: None
    status: Callable[[], dict[str, Any]] = field(default=lambda: {})


class DecisionIn(BaseModel):
    action: Literal["approve", "edit", "reject"]
    version: int = Field(ge=0, description="the version the reviewer saw; a newer one answers 412")
    reason: Literal[REJECT_REASONS] | None = Field(None, description="with reject: a reason tag")  # type: ignore[valid-type]
    note: str = Field("", max_length=2000)
    instruction: str | None = Field(None, max_length=20000)
    output: str | None = Field(None, max_length=20000)


class BulkIn(BaseModel):
    filter: ItemFilter = Field(default_factory=ItemFilter)
    min_score: float = Field(ge=0, le=1, description="approve only items with at least this support score")
    expected: int | None = Field(
        None, ge=0, description="the count the admin confirmed; a change answers 409"
    )


class QueueQuery(ItemFilter, Page):
    """The queue's query string: filters and paging in one model (each alone refuses the other's keys)."""


def _item_out(item: StoredItem, store: ReviewStore | None = None) -> dict[str, Any]:
    out = {"sample": item.sample.model_dump(mode="json"), "version": item.version, "route": item.route}
    if store is not None:
        out["history"] = store.history(item.sample.id)
    return out


def _bulk_filter(body: BulkIn) -> ItemFilter:
    low = max(body.min_score, body.filter.min_score or 0.0)
    return body.filter.model_copy(update={"state": ReviewState.PENDING, "min_score": low})


def create_app(w: Wiring) -> FastAPI:
    app = FastAPI(title="domainlm review", version="1", description=__doc__)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    store, settings = w.store, w.settings

    def user(request: Request) -> User:
        found = authenticate(request, settings)
        if found is None:
            raise HTTPException(
                401, "sign in: a Bearer token, the sign-in form, or the trusted proxy's header"
            )
        return found

    def writer(request: Request, who: Annotated[User, Depends(user)]) -> User:
        check_csrf(request, who)
        return who

    def admin(who: Annotated[User, Depends(writer)]) -> User:
        if not who.is_admin:
            raise HTTPException(403, "admins only")
        return who

    def found(item_id: str) -> StoredItem:
        item = store.item(item_id)
        if item is None:
            raise HTTPException(404, f"no review item {item_id!r}")
        return item

    # -- the page --------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        if authenticate(request, settings) is None:
            return RedirectResponse("/login", 303)
        response = FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
        if not request.cookies.get(CSRF):
            response.set_cookie(CSRF, new_csrf(), samesite="strict")
        return response

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/login", include_in_schema=False)
    def login_form() -> Response:
        return FileResponse(STATIC / "login.html")

    @app.post("/login", include_in_schema=False)
    def login(token: Annotated[str, Form()]) -> Response:
        if not any(secrets.compare_digest(token, known) for known in settings.tokens):
            return RedirectResponse("/login?failed=1", 303)
        response = RedirectResponse("/", 303)
        response.set_cookie(SESSION, token, httponly=True, samesite="strict")
        response.set_cookie(CSRF, new_csrf(), samesite="strict")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION)
        return response

    # -- the API ---------------------------------------------------------------------------------

    @app.get("/api/me")
    def me(who: Annotated[User, Depends(user)]) -> dict[str, Any]:
        return {"user": who.name, "role": who.role, "reject_reasons": list(REJECT_REASONS)}

    @app.get("/api/items")
    def queue(who: Annotated[User, Depends(user)], query: Annotated[QueueQuery, Query()]) -> dict[str, Any]:
        where = ItemFilter(**query.model_dump(include=set(ItemFilter.model_fields)))
        page = Page(**query.model_dump(include=set(Page.model_fields)))
        total, found_items = store.query(where, page)
        return {"total": total, "offset": page.offset, "items": [_item_out(i) for i in found_items]}

    @app.get("/api/items/{item_id}")
    def item(item_id: str, who: Annotated[User, Depends(user)]) -> dict[str, Any]:
        stored = found(item_id)
        out = _item_out(stored, store)
        chunk = w.chunk(stored.sample.provenance.chunk_id)
        out["chunk"] = chunk.text if chunk is not None else None
        pdf = pages.find_pdf(stored.sample.provenance.source, settings.pdf_dirs)
        out["pdf"] = pdf is not None
        out["evidence_page"] = (
            pages.evidence_page(pdf, stored.sample.provenance.pages, stored.sample.evidence) if pdf else None
        )
        return out

    @app.post("/api/items/{item_id}/decision")
    def decide(item_id: str, body: DecisionIn, who: Annotated[User, Depends(writer)]) -> Any:
        note = "; ".join(p for p in (f"reason: {body.reason}" if body.reason else "", body.note) if p)
        decision = Decision(id=item_id, action=body.action, reviewer=who.name, note=note,
                            instruction=body.instruction, output=body.output, version=body.version)  # fmt: skip
        try:
            sample = store.decide(decision)
        except KeyError as e:
            raise HTTPException(404, f"no review item {item_id!r}") from e
        except ValueError as e:
            raise HTTPException(422, str(e)) from e
        except StaleVersion as e:
            return JSONResponse(
                {
                    "detail": "the item changed since you opened it",
                    "current": _item_out(e.current),
                    "last": e.last,
                },
                status_code=412,
            )
        w.publish(sample)
        return _item_out(found(item_id), store)

    @app.post("/api/undo")
    def undo(who: Annotated[User, Depends(writer)]) -> dict[str, Any]:
        try:
            sample = store.undo_last(who.name)
        except UndoRefused as e:
            raise HTTPException(409, str(e)) from e
        return _item_out(found(sample.id), store)

    @app.get("/api/counts")
    def counts(who: Annotated[User, Depends(user)]) -> dict[str, Any]:
        states = store.counts()
        total = sum(states.values())
        return {"states": states, "total": total, "pending": states.get("pending", 0),
                "reviewers": store.reviewer_counts()}  # fmt: skip

    @app.post("/api/bulk/preview")
    def bulk_preview(body: BulkIn, who: Annotated[User, Depends(admin)]) -> dict[str, int]:
        return {"count": len(store.matching_ids(_bulk_filter(body)))}

    @app.post("/api/bulk/approve")
    def bulk_approve(body: BulkIn, who: Annotated[User, Depends(admin)]) -> dict[str, Any]:
        ids = store.matching_ids(_bulk_filter(body))
        if body.expected is not None and body.expected != len(ids):
            raise HTTPException(409, f"{len(ids)} items match now, not the {body.expected} confirmed")
        approved = 0
        for item_id in ids:
            try:
                sample = store.decide(Decision(id=item_id, action="approve", reviewer=who.name, note="bulk"))
            except KeyError:
                continue
            w.publish(sample)
            approved += 1
        return {"approved": approved}

    @app.get("/api/items/{item_id}/page/{page_no}.png", response_class=Response)
    async def page_image(item_id: str, page_no: int, who: Annotated[User, Depends(user)]) -> Response:
        sample = found(item_id).sample
        pdf = pages.find_pdf(sample.provenance.source, settings.pdf_dirs)
        if pdf is None:
            raise HTTPException(404, f"the source PDF {sample.provenance.source!r} is not available here")
        try:  # rendering (and OCR of a scanned page) is CPU work: off the event loop
            png = await asyncio.to_thread(pages.render, pdf, page_no, sample.evidence or sample.output)
        except IndexError as e:
            raise HTTPException(404, str(e)) from e
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    @app.post("/v1/documents", status_code=202)
    async def upload(
        file: Annotated[UploadFile, File()], who: Annotated[User, Depends(writer)]
    ) -> dict[str, Any]:
        if w.accept_document is None:
            raise HTTPException(404, "this server takes no documents")
        data = await file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(413, f"larger than {settings.max_upload_bytes} bytes")
        if not data.startswith(b"%PDF-"):
            raise HTTPException(415, "not a PDF (it does not start with %PDF-)")
        return w.accept_document(Path(file.filename or "upload.pdf").name, data)

    @app.get("/v1/runs/status")
    def run_status(who: Annotated[User, Depends(user)]) -> dict[str, Any]:
        return {"review": store.counts(), **w.status()}

    return app
