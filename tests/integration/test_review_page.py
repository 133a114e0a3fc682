"""The review page in real headless Chromium (Debian's `chromium`, driven by Playwright): a reviewer signs
in, filters, approves with the keyboard, edits (seeing the diff), rejects, undoes, bulk-approves; a
second reviewer's stale edit is refused and shown; screenshots are not blank; the console stays clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import chromium
from PIL import Image
from reviewweb import ADMIN, REVIEWER, human_run, serving, wiring

from domainlm.review import ReviewStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ReviewStore]]:
    out = tmp_path_factory.mktemp("page") / "out"
    store = ReviewStore(human_run(out))
    with serving(wiring(store, out)) as url:
        yield url, store
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


class Reviewer:
    """One signed-in browser context, with what its console said."""

    def __init__(self, browser: Any, url: str, token: str) -> None:
        self.context = browser.new_context(viewport={"width": 1500, "height": 950}, locale="ko-KR")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url + "/")
        assert self.page.url.endswith("/login")
        self.page.fill("#token", token)
        self.page.press("#token", "Enter")
        self.page.wait_for_selector(".queue-item")
        self.page.wait_for_function(
            "document.querySelector('#page').complete && document.querySelector('#page').naturalWidth > 0"
        )

    def current_id(self) -> str:
        return str(self.page.evaluate("state.current.sample.id"))

    def status(self) -> str:
        return str(self.page.inner_text("#status"))

    def key(self, combo: str, expect_status: str) -> None:
        self.page.locator("body").click(position={"x": 5, "y": 5})  # out of any text field
        self.page.keyboard.press(combo)
        self.page.wait_for_function(
            f"document.querySelector('#status').textContent.includes({expect_status!r})"
        )

    def shot(self, path: Path) -> np.ndarray:
        self.page.screenshot(path=str(path), full_page=False)
        return np.asarray(Image.open(path).convert("RGB")).astype(int)


def not_blank(pixels: np.ndarray) -> bool:
    return float(pixels.std()) > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200


def test_a_reviewer_works_the_queue_from_the_keyboard(
    site: tuple[str, ReviewStore], browser: Any, tmp_path: Path
) -> None:
    url, store = site
    kim = Reviewer(browser, url, ADMIN)
    page = kim.page
    assert "kim (admin)" in page.inner_text("#who")
    total = store.counts()["pending"]
    assert f"0 of {total} decided" in page.inner_text("#progress-text")
    # the source side: the chunk with the evidence marked, the PDF page with the evidence boxed
    evidence = page.evaluate("state.current.sample.evidence")
    assert evidence and page.inner_text("#chunk mark") == evidence
    assert page.evaluate("document.querySelector('#page').naturalWidth") > 800
    assert not_blank(kim.shot(tmp_path / "open.png"))

    # filter: multiple-choice items only (Enter in a field applies the filters)
    page.select_option("select[name=kind]", "mcq")
    page.press("input[name=q]", "Enter")
    page.wait_for_function(
        "state.items.length > 0 && state.items.every(i => i.sample.kind === 'mcq')"
        " && state.current && state.current.sample.kind === 'mcq'"
    )
    assert page.locator("#choices li.correct").count() == 1
    page.select_option("select[name=kind]", "")
    page.press("input[name=q]", "Enter")
    page.wait_for_function(
        f"state.total === {total} && state.current && state.current.sample.id === state.items[0].sample.id"
    )

    # approve with the keyboard; the next item opens by itself
    first = kim.current_id()
    kim.key("Alt+A", "approved")
    assert kim.current_id() != first and store.item(first).sample.review == "approved"  # type: ignore[union-attr]
    assert f"1 of {total} decided" in page.inner_text("#progress-text")

    # shortcuts do nothing while typing; an edit shows its diff, then Alt+E saves it
    second = kim.current_id()
    page.click("#output")
    page.keyboard.press("End")
    page.keyboard.type(" (검토 완료)")
    page.keyboard.press("Alt+A")  # typed into the field, not a decision
    assert store.item(second).sample.review == "pending"  # type: ignore[union-attr]
    assert page.is_visible("#diff") and "(검토 완료)" in "".join(page.locator("#diff ins").all_inner_texts())
    page.keyboard.press("Escape")  # leaves the field
    kim.key("Alt+E", "edited and approved")
    edited = store.item(second).sample  # type: ignore[union-attr]
    assert edited.review == "edited" and edited.output.endswith("(검토 완료)")

    # reject with a reason, then undo it
    third = kim.current_id()
    page.select_option("#reason", "unclear-question")
    kim.key("Alt+R", "rejected")
    assert store.history(third)[-1]["note"] == "reason: unclear-question"
    kim.key("Alt+Z", "undone")
    assert store.item(third).sample.review == "pending"  # type: ignore[union-attr]

    # the help panel lists the shortcuts; Escape closes it
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Alt+H")
    assert page.is_visible("#help") and "Alt+Z" in page.inner_text("#help")
    page.keyboard.press("Escape")
    assert not page.is_visible("#help")
    assert not_blank(kim.shot(tmp_path / "decided.png"))
    assert kim.errors == []
    kim.context.close()


def test_a_stale_edit_is_refused_and_bulk_approval_is_counted_first(
    site: tuple[str, ReviewStore], browser: Any, tmp_path: Path
) -> None:
    url, store = site
    kim, lee = Reviewer(browser, url, ADMIN), Reviewer(browser, url, REVIEWER)
    assert not lee.page.is_visible("#bulk-button")  # bulk decisions are for admins
    item = lee.current_id()
    assert kim.current_id() == item  # both opened the same first pending item
    kim.key("Alt+A", "approved")
    lee.page.click("#output")
    lee.page.keyboard.type(" 수정")
    lee.page.keyboard.press("Escape")
    lee.page.locator("body").click(position={"x": 5, "y": 5})
    lee.page.keyboard.press("Alt+E")
    lee.page.wait_for_selector("#banner:not([hidden])")
    assert "kim approved it" in lee.page.inner_text("#banner")
    assert lee.page.evaluate("state.current.sample.review") == "approved"  # the other's change is shown
    assert store.item(item).sample.reviewer == "kim"  # type: ignore[union-attr]
    assert not_blank(lee.shot(tmp_path / "stale.png"))

    # bulk approval: the count is shown before anything is decided
    pending_before = store.counts()["pending"]
    kim.page.select_option("select[name=kind]", "qa")  # the filters say which items
    kim.page.fill("#bulk-threshold", "0.95")
    kim.page.click("#bulk-button")
    kim.page.wait_for_selector("#bulk-dialog[open]")
    text = kim.page.inner_text("#bulk-text")
    count = int(text.split("Approve ")[1].split(" ")[0])
    assert 0 < count < pending_before and store.counts()["pending"] == pending_before
    kim.page.click("#bulk-confirm")
    kim.page.wait_for_function(
        f"document.querySelector('#status').textContent.includes('bulk approved {count}')"
    )
    assert store.counts()["pending"] == pending_before - count
    # Chromium logs every 4xx a fetch gets; lee's refused edit (412) is the one that belongs here.
    assert kim.errors == [] and [e for e in lee.errors if "status of 412" not in e] == []
    assert len(lee.errors) == 1
    kim.context.close()
    lee.context.close()
