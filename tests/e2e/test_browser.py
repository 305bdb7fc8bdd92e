"""The chat page in a real headless Chromium (Debian's, driven by Playwright): it streams the
answer, links [n] to the cited titles, keeps the conversation, and renders corpus text as text.

Outside CI the test skips when Chromium or Playwright is missing; in CI (CI set) it must run:
scripts/ci-system-deps.sh installs Chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_helpers import GROKKING, PLANTED, ScriptedModel

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not os.environ.get("CI"):
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: run scripts/ci-system-deps.sh", allow_module_level=True)
    pytest.importorskip("playwright.sync_api", reason="playwright is missing: pip install -e '.[test]'")

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


TIMEOUT_MS = 30_000
# Records the answer's text length each time it changes while the turn is still streaming.
WATCH_STREAMING = """() => {
  window.__partial = [];
  new MutationObserver(() => {
    const turn = document.querySelector('li.turn.assistant.streaming .text');
    if (turn) window.__partial.push(turn.textContent.length);
  }).observe(document.getElementById('log'), {childList: true, subtree: true, characterData: true});
}"""


def ask(page: Page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")


def last_answer(page: Page) -> Any:
    return page.locator("li.turn.assistant").last


def test_ask_streams_the_answer_and_links_the_cited_title(
    live_server: Callable[..., Any], model: ScriptedModel, page: Page
) -> None:
    model.token_delay_s = 0.03  # slow enough to watch the text arrive sentence by sentence

    with live_server() as url:
        page.goto(url)
        assert not page.locator("#key-form").is_visible(), "no key asked for when none is needed"
        page.evaluate(WATCH_STREAMING)
        ask(page, "What is grokking?")
        page.wait_for_selector("li.turn.assistant.done", timeout=TIMEOUT_MS)
        answer = last_answer(page)
        final_length = len(answer.locator(".text").text_content() or "")
        partial = page.evaluate("window.__partial")
        assert any(0 < n < final_length for n in partial), "the text did not arrive in pieces"
        assert "[1]" in answer.locator(".text").inner_text()
        assert "Sources:" not in answer.locator(".text").inner_text(), "the page lists them itself"
        sources = answer.locator("ol.sources li")
        assert sources.all_inner_texts() == [GROKKING]
        link = answer.locator("a.cite").first
        target = link.get_attribute("href")
        assert target and page.locator(target).inner_text() == GROKKING
        link.click()
        assert page.evaluate("location.hash") == target

        # a follow-up is answered about the same paper
        ask(page, "and what dataset did it use?")
        page.wait_for_selector("li.turn.assistant.done >> nth=1", timeout=TIMEOUT_MS)
        follow_up = last_answer(page)
        assert follow_up.locator("ol.sources li").first.inner_text() == GROKKING
        assert page.locator("li.turn.user").count() == 2


def test_corpus_text_is_rendered_as_text_not_html(
    live_server: Callable[..., Any], model: ScriptedModel, page: Page
) -> None:
    with live_server() as url:
        page.goto(url)
        ask(page, "How are zebrafish swim gaits tracked with pose graphs?")
        page.wait_for_selector("li.turn.assistant.done", timeout=TIMEOUT_MS)
        answer = last_answer(page)

        assert answer.locator("ol.sources li").first.inner_text() == PLANTED
        assert "<b>tail beats</b>" in answer.locator(".text").inner_text()
        assert page.locator("#log img, #log script, #log b").count() == 0
        assert page.evaluate("window.__pwned") is None


def test_a_refusal_naming_the_planted_title_and_a_marked_up_question_stay_text(
    live_server: Callable[..., Any], model: ScriptedModel, page: Page
) -> None:
    question = 'Which zebrafish tracker won an Olympic medal <img src=q onerror="window.__pwned=5"> in 1936?'
    with live_server() as url:
        page.goto(url)
        ask(page, question)
        page.wait_for_selector("li.turn.assistant.done", timeout=TIMEOUT_MS)

        assert page.locator("li.turn.user .text").last.inner_text() == question
        answer = last_answer(page)
        assert "refused" in (answer.get_attribute("class") or "")
        assert f'"{PLANTED}"' in answer.locator(".text").inner_text()  # the title, as typed in the corpus
        assert page.locator("#log img, #log script").count() == 0
        assert page.evaluate("window.__pwned") is None


@pytest.mark.parametrize(
    ("question", "badge"),
    [
        ("Who wrote the novel Pride and Prejudice?", "not covered"),
        # the Tversky abstract says perplexity goes down: the refusal quotes it, with its source
        ("Why do Tversky projection layers make the language model's perplexity higher?", "premise contradicted"),
    ],
)
def test_a_refusal_is_badged_by_what_it_found(
    live_server: Callable[..., Any], page: Page, question: str, badge: str
) -> None:
    with live_server() as url:
        page.goto(url)
        ask(page, question)
        page.wait_for_selector("li.turn.assistant.done", timeout=TIMEOUT_MS)

        answer = last_answer(page)
        assert "refused" in (answer.get_attribute("class") or "")
        assert answer.locator(".badge").text_content() == badge
        sources = answer.locator("ol.sources li")
        if badge == "not covered":
            assert sources.count() == 0
        else:
            assert "reduces perplexity by 7.5%" in answer.locator(".text").inner_text()
            assert sources.first.inner_text().startswith("Tversky")


def test_the_page_asks_for_the_key_when_the_server_needs_one(live_server: Callable[..., Any], page: Page) -> None:
    with live_server(api_key="k3y") as url:
        page.goto(url)
        ask(page, "What is grokking?")
        page.wait_for_selector("#key-form", state="visible", timeout=TIMEOUT_MS)
        page.fill("#key", "k3y")
        page.click("#key-form button")
        page.wait_for_selector("li.turn.assistant.done", timeout=TIMEOUT_MS)

        assert last_answer(page).locator("ol.sources li").first.inner_text() == GROKKING
