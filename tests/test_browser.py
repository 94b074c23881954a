"""The site as a reader sees it: served on 127.0.0.1 and opened in headless Chromium.

Needs Debian's chromium (``apt-get install -y chromium``) and Playwright's Python package;
Playwright's own browser download is not used.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path

import pytest
import torch

from test_book import TOPICS, built_site  # noqa: F401  (the session's one build of the book)

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
COLAB = "https://colab.research.google.com/github/kai-bert/kai-bert/blob/main/"

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port); yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


class Visit:
    """One page load and everything that went wrong during it."""

    def __init__(self, browser, url: str, base: str):
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("response", lambda r: self.failed.append(f"{r.url} ({r.status})") if r.status >= 400 else None)
        self.page.goto(url, wait_until="networkidle")
        if self.page.locator("script[src*='mathjax']").count():  # typesetting finishes after the load
            self.page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                        timeout=60_000)
            self.page.evaluate("async () => { await MathJax.startup.promise; }")
        self.outside = [u for u in self.requests if not u.startswith(base) and not u.startswith("data:")]

    def state(self) -> dict:
        return self.page.evaluate(
            """() => ({
              images: [...document.images].map(i => ({src: i.currentSrc, ok: i.complete && i.naturalWidth > 0,
                                                       alt: i.getAttribute('alt') || ''})),
              binder: [...document.querySelectorAll('a[href*="mybinder.org"]')].map(a => a.href),
              selfcheck: document.querySelectorAll('.kaibert-selfcheck[data-ready] .ks-question').length,
              views: [...document.querySelectorAll('div[id^="bertviz-"]')].map(d => ({
                  id: d.id, drawn: d.querySelectorAll('svg line, svg rect, svg text').length})),
              colab: [...document.querySelectorAll('a[href*="colab.research.google.com"]')].map(a => a.href),
              math: document.querySelectorAll('.math').length,
              rendered_math: document.querySelectorAll('mjx-container').length,
            })"""
        )

    def close(self):
        self.page.close()


def check_page(browser, base: str, path: str, colab_target: str) -> dict:
    visit = Visit(browser, base + path, base)
    try:
        state = visit.state()
        assert visit.errors == [], f"{path}: JavaScript errors {visit.errors}"
        assert visit.failed == [], f"{path}: failed requests {visit.failed}"
        assert visit.outside == [], f"{path}: requests leaving 127.0.0.1 {visit.outside}"
        broken = [i["src"] for i in state["images"] if not i["ok"]]
        assert broken == [], f"{path}: images that did not load {broken}"
        blank = [v["id"] for v in state["views"] if v["drawn"] == 0]
        assert blank == [], f"{path}: attention views that drew nothing {blank}"
        assert len(state["colab"]) >= 2, f"{path}: expected the Colab badge and launch button, got {state['colab']}"
        assert set(state["colab"]) == {COLAB + colab_target}, f"{path}: Colab links {state['colab']}"
        if state["math"]:
            assert state["rendered_math"] > 0, f"{path}: math was not typeset"
        return state
    finally:
        visit.close()


@pytest.mark.slow
@pytest.mark.parametrize("topic", TOPICS)
def test_chapter_page_renders_offline(browser, built_site, topic):  # noqa: F811
    with serve(built_site) as base:
        state = check_page(browser, base, f"chapters/{topic}.html", f"chapters/{topic}.ipynb")
        figures = [i for i in state["images"] if i["src"].endswith(".png") and "/_images/" in i["src"]]
        assert figures, f"chapter {topic} shows no figure"
        # alt text that says what the figure shows, not a file name
        bad = [i["src"].rsplit("/", 1)[-1] for i in figures if len(i["alt"].split()) < 8 or i["alt"].endswith(".png")]
        assert bad == [], f"chapter {topic}: figures without alt text {bad}"
        assert state["binder"] and all("mybinder.org/v2/gh/kai-bert/kai-bert/main" in b for b in state["binder"]), (
            f"chapter {topic}: Binder launch link {state['binder']}")
        assert 3 <= state["selfcheck"] <= 5, f"chapter {topic}: the self-check did not come up ({state['selfcheck']})"
        if topic == "04_multi_head_attention":
            assert state["views"], "chapter 04 shows no bertviz view"
        check_page(browser, base, f"exercises/{topic}.html", f"exercises/{topic}.ipynb")


@pytest.mark.slow
def test_book_pages_render_offline(browser, built_site):  # noqa: F811
    with serve(built_site) as base:
        for path in ("index.html", "book/intro.html", "book/running.html", "book/instructors.html",
                     "book/glossary.html", "book/references.html", "book/grading.html"):
            visit = Visit(browser, base + path, base)
            try:
                assert visit.errors == [] and visit.failed == [] and visit.outside == [], (
                    path, visit.errors, visit.failed, visit.outside)
            finally:
                visit.close()


@pytest.mark.slow
def test_self_check_works_on_a_chapter_page(browser, built_site):  # noqa: F811
    """On the built site, under the chapter's own *Self-check* heading, answers get feedback."""
    from kaibert.course import selfcheck

    with serve(built_site) as base:
        visit = Visit(browser, base + "chapters/05_encoder_layer.html", base)
        try:
            page = visit.page
            assert page.locator("section#self-check h2").inner_text().startswith("Self-check")
            assert page.locator("section#self-check .kaibert-selfcheck").count() == 1
            assert page.locator("section#self-check .cell_input").count() == 0, "the call itself is hidden"
            questions = selfcheck.load("05")
            q = next(i for i, q in enumerate(questions, 1) if q.kind == "number")
            assert answer_number(page, q, "12").startswith("✗ Not quite.")
            assert answer_number(page, q, f"{questions[q - 1].number:,.0f}").startswith("✓ Right.")
            c = next(i for i, q in enumerate(questions, 1) if q.kind == "choice")
            right = next(ch.answer for ch in questions[c - 1].choices if ch.correct)
            assert answer_choice(page, c, right).startswith("✓ Right.")
            assert visit.errors == [] and visit.outside == []
        finally:
            visit.close()


def test_attention_view_draws_and_responds_offline(browser, tmp_path):
    """A saved head view draws in a browser with no network, and hovering highlights a token."""
    from kaibert.course.viz import head_view, model_view

    torch.manual_seed(0)
    tokens = ["[CLS]", "the", "cat", "sat", "[SEP]"]
    attention = tuple(torch.softmax(torch.randn(1, 2, 5, 5), dim=-1) for _ in range(2))
    head_view(attention, tokens).save(tmp_path / "head.html")
    model_view(attention, tokens).save(tmp_path / "model.html")
    with serve(tmp_path) as base:
        visit = Visit(browser, base + "head.html", base)
        try:
            assert visit.errors == [] and visit.failed == [] and visit.outside == []
            lines = visit.page.locator("#vis svg line")
            assert lines.count() == 2 * 5 * 5  # heads x tokens x tokens, on the first layer
            visit.page.hover("#vis svg #left text >> nth=2")  # "cat"
            assert visit.page.get_attribute("#vis svg #attention", "visibility") == "hidden"
            highlighted = visit.page.locator("#vis svg line[visibility='visible']")
            assert highlighted.count() == 2 * 5  # cat's lines, in every head
            visit.page.select_option("#layer", "1")
            assert visit.page.locator("#vis svg line").count() == 2 * 5 * 5
        finally:
            visit.close()
        # a sentence pair: the blocks (A -> B, ...) are rebuilt in the page from the whole matrix
        head_view(attention, tokens, sentence_b_start=3).save(tmp_path / "pair.html")
        visit = Visit(browser, base + "pair.html", base)
        try:
            assert visit.errors == [] and visit.outside == []
            names = visit.page.locator("#filter option").all_inner_texts()
            for name, rows, cols in (("Sentence A -> Sentence B", 3, 2), ("Sentence B -> Sentence A", 2, 3),
                                     ("Sentence B -> Sentence B", 2, 2)):
                visit.page.select_option("#filter", str(names.index(name)))
                assert visit.page.locator("#vis svg line").count() == 2 * rows * cols, name
            assert visit.errors == []
        finally:
            visit.close()
        visit = Visit(browser, base + "model.html", base)
        try:
            assert visit.errors == [] and visit.outside == []
            assert visit.page.locator("svg").count() >= 1
            assert visit.page.locator("svg line").count() >= 2 * 2 * 5 * 5  # layers x heads x tokens^2
        finally:
            visit.close()



def answer_choice(page, question: int, text: str) -> str:
    """Click the choice with this text in question ``question`` (1-based); returns the feedback."""
    item = page.locator(".ks-question").nth(question - 1)
    item.locator(".ks-choice", has_text=text.replace("`", "")).click()  # `code` shows without its backticks
    return item.locator(".ks-feedback").inner_text()


def answer_number(page, question: int, typed: str) -> str:
    item = page.locator(".ks-question").nth(question - 1)
    item.locator(".ks-input").fill(typed)
    item.locator(".ks-check").click()
    return item.locator(".ks-feedback").inner_text()


@pytest.mark.parametrize("chapter", __import__("kaibert.course.selfcheck", fromlist=["chapters"]).chapters())
def test_self_check_answers_right_and_says_why_when_wrong(browser, tmp_path, chapter):
    """Each chapter's self-check, saved as a page: every kind of answer gets the feedback it should."""
    from kaibert.course import selfcheck

    questions = selfcheck.load(chapter)
    selfcheck.show(chapter).save(tmp_path / "selfcheck.html")
    with serve(tmp_path) as base:
        visit = Visit(browser, base + "selfcheck.html", base)
        try:
            page = visit.page
            assert page.locator(".ks-question").count() == len(questions)
            for number, q in enumerate(questions, 1):
                if q.kind == "choice":
                    wrong = next(c for c in q.choices if not c.correct)
                    said = answer_choice(page, number, wrong.answer)
                    assert said.startswith("✗ Not quite.") and wrong.why.split("`")[0][:40] in said, said
                    right = next(c for c in q.choices if c.correct)
                    said = answer_choice(page, number, right.answer)
                    assert said.startswith("✓ Right.") and right.why.split("`")[0][:40] in said, said
                else:
                    said = answer_number(page, number, "-12345")
                    assert said.startswith("✗ Not quite.") and q.hint.split("`")[0][:30] in said, said
                    item = page.locator(".ks-question").nth(number - 1)
                    assert item.locator(".ks-reveal").is_visible()
                    for m in q.mistakes:  # a typical wrong number gets its own explanation
                        said = answer_number(page, number, f"{m.number:.12g}")
                        assert said.startswith("✗ Not quite.") and m.why.split("`")[0][:30] in said, said
                    said = answer_number(page, number, "one half")
                    assert said.startswith("Type a number"), said
                    said = answer_number(page, number, f"{q.number:.12g}")
                    assert said.startswith("✓ Right.") and q.why.split("`")[0][:30] in said, said
            assert visit.errors == [] and visit.failed == [] and visit.outside == []
            if chapter != "03":
                return
            # 1/8 is accepted for 0.125, and the answer can be shown after a wrong try
            assert answer_number(page, 1, "1/8").startswith("✓ Right.")
            answer_number(page, 1, "8")
            page.locator(".ks-question").nth(0).locator(".ks-reveal").click()
            assert page.locator(".ks-question").nth(0).locator(".ks-feedback").inner_text().startswith(
                "The answer is 0.125.")
            assert visit.errors == [] and visit.failed == [] and visit.outside == []
        finally:
            visit.close()
