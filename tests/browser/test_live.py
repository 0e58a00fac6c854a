"""The live pages in a real browser: the adder widget, its atlas, the mask playground.

Each test opens the built book (``_build/html``) twice, from ``http://127.0.0.1`` and from
``file://``, in Debian's Chromium driven by Playwright, with every request that would leave
the machine aborted. It types into the widget (``99+99=`` gives ``198``, ``50+50=`` gives
``100``, bad questions get ``parse_question``'s message), opens a ``?q=`` link, clicks an atlas
cell, toggles a mask cell, and finds no console error; each answer takes at most 50 ms. The
pages are also checked in dark mode, at a phone's width (390 px, no sideways scrolling), and
for weight: the adder's page with its weights stays under 1 MB. Screenshots go to
``_build/screenshots/live-*.png``.

Run with ``make browser`` (selected with ``-m browser``; a plain ``pytest`` skips them). The
server and the browser are the harness's (``tests/browser/conftest.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chapter3.adder import parse_question

pytestmark = pytest.mark.browser

from book_server import SCREENSHOTS, SITE  # noqa: E402

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
BUDGET_MS = 50
PAGE_BUDGET = (
    1_000_000  # bytes: the adder's page, its scripts, styles, fonts and weights
)


def message(question: str) -> str:
    with pytest.raises(ValueError) as error:
        parse_question(question)
    return str(error.value)


@pytest.fixture(scope="module")
def live_site(request) -> Path:
    if "browser" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("browser test: run with -m browser (make browser)")
    for page in ("adder_live.html", "masks.html", "_static/live/adder-model.js"):
        if not (SITE / page).is_file():
            pytest.fail(f"{SITE / page} is missing: run `make html` first")
    return SITE


@pytest.fixture(scope="module")
def live_server(live_site, base_url):
    return base_url  # the harness's server of _build/html (tests/browser/conftest.py)


@pytest.fixture(scope="module")
def chromium(browser):
    # The harness's one Chromium for the session: a second sync Playwright in the same
    # thread would refuse to start.
    return browser


@pytest.fixture(params=["http", "file"])
def origin(request, live_server, live_site):
    return live_server if request.param == "http" else live_site.as_uri() + "/"


class Page:
    """A page of the book in a fresh context, with its console errors and outside requests."""

    def __init__(self, chromium, base: str, viewport=DESKTOP, scheme="light") -> None:
        self.context = chromium.new_context(viewport=viewport, color_scheme=scheme)
        self.base = base
        self.problems: list[str] = []

        def local_only(route, request):
            if request.url.startswith(("http://127.0.0.1", "file://", "data:")):
                route.continue_()
            else:
                self.problems.append(f"request off the machine: {request.url}")
                route.abort()

        self.context.route("**/*", local_only)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        # Chromium asks any http page for /favicon.ico by itself; this branch's book has no
        # favicon (the browser harness adds one), so that one 404 and only it is let through.
        if msg.location.get("url", "").endswith("/favicon.ico"):
            return
        self.problems.append(f"console: {msg.text} ({msg.location.get('url')})")

    def _failed(self, request) -> None:
        if not request.url.endswith("/favicon.ico"):
            self.problems.append(f"request failed: {request.url}")

    def _response(self, response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def open(self, path: str) -> None:
        self.page.goto(self.base + path, wait_until="load")

    def ask(self, question: str) -> None:
        self.page.fill("#adder-question", question)
        self.page.press("#adder-question", "Enter")

    def answer(self) -> str:
        return self.page.locator("#adder-answer").inner_text()

    def wait_answer(self, expected: str) -> None:
        self.page.wait_for_function(
            "e => (document.querySelector('#adder-answer') || {}).textContent === e",
            arg=expected,
            timeout=5000,
        )

    def milliseconds(self) -> float:
        return float(self.page.locator(".live-adder").get_attribute("data-ms"))

    def close(self) -> None:
        self.context.close()
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture
def page(chromium, origin):
    p = Page(chromium, origin)
    yield p
    p.close()


def test_typed_questions_get_their_answers(page):
    page.open("adder_live.html")
    page.wait_answer("072")  # the box starts with 15+57=
    times = []
    for question, answer in [("99+99=", "198"), ("50+50=", "100"), ("6+90=", "096")]:
        page.ask(question)
        page.wait_answer(answer)
        times.append(page.milliseconds())
        assert page.page.locator("#adder-error").is_hidden()
    assert max(times) <= BUDGET_MS, f"answers took {times} ms"
    print(
        f"\nwidget latency ({page.base[:4]}): {', '.join(f'{t:.1f}' for t in times)} ms"
    )


@pytest.mark.parametrize("question", ["1a+2=", "123+4=", "", "12+34", "é+1="])
def test_bad_questions_get_the_python_message(page, question):
    page.open("adder_live.html")
    page.wait_answer("072")
    page.ask(question)
    error = page.page.locator("#adder-error")
    error.wait_for(state="visible", timeout=5000)
    assert error.inner_text() == message(question)
    assert page.answer() == ""
    assert page.page.locator("#adder-question").get_attribute("aria-invalid") == "true"


def test_a_question_can_be_linked(page):
    page.open("adder_live.html?q=55%2B45%3D")
    page.wait_answer("100")
    assert page.page.input_value("#adder-question") == "55+45="
    page.page.click(".live-status a")  # the widget's own link to the question
    page.wait_answer("100")
    assert "q=55%2B45%3D" in page.page.url


def test_a_linked_bad_question_shows_its_message(page):
    page.open("adder_live.html?q=1a%2B2%3D")
    page.page.locator("#adder-error").wait_for(state="visible", timeout=5000)
    assert page.page.locator("#adder-error").inner_text() == message("1a+2=")


def test_clicking_an_atlas_cell_asks_that_sum(page):
    page.open("adder_live.html")
    page.wait_answer("072")
    canvas = page.page.locator("#adder-atlas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    a, b = 37, 48  # row a, column b
    canvas.click(
        position={
            "x": (b + 0.5) * box["width"] / 100,
            "y": (a + 0.5) * box["height"] / 100,
        }
    )
    page.wait_answer("085")
    assert page.page.input_value("#adder-question") == "37+48="
    info = page.page.locator(".live-atlas-info").inner_text()
    assert info.startswith("37+48= → 085: right, carry into tens"), info
    summary = page.page.locator(".live-atlas-summary").inner_text()
    assert re.search(r"gets [\d,]+ of the 10,000 sums right", summary), summary


def test_heatmaps_show_every_layer_and_head(page):
    page.open("adder_live.html?q=15%2B57%3D")
    page.wait_answer("072")
    layers = page.page.locator(".live-layer")
    heads = page.page.locator(".live-layer").first.locator(".live-map")
    assert layers.count() >= 1 and heads.count() >= 1
    maps = page.page.locator(".live-map").count()
    assert maps == layers.count() * heads.count()
    steps = page.page.locator(".live-steps button")
    assert steps.count() == 4  # three digits and <EOS>
    steps.nth(2).click()
    assert steps.nth(2).get_attribute("aria-pressed") == "true"
    rows = page.page.locator(".live-map").first.locator("rect.live-cell").count()
    assert rows == sum(range(1, 10)), rows  # the 3rd digit is chosen after 9 tokens


def loaded(page: Page, name: str) -> bool:
    return page.page.evaluate(
        "n => [...document.scripts].some(s => s.src.includes(n))",
        name,
    )


def test_the_inference_page_loads_the_weights_at_the_first_question(page):
    if not (SITE / "inference_results.html").is_file():
        pytest.skip("this build has no inference page")
    page.open("inference_results.html")
    page.page.wait_for_load_state("networkidle")
    assert loaded(page, "gpt.js") and not loaded(page, "adder-model.js")
    page.ask("99+99=")
    page.wait_answer("198")
    assert loaded(page, "adder-model.js")
    page.ask("1a+2=")
    page.page.locator("#adder-error").wait_for(state="visible", timeout=5000)
    assert page.page.locator("#adder-error").inner_text() == message("1a+2=")


def test_the_inference_page_answers_a_linked_question(page):
    if not (SITE / "inference_results.html").is_file():
        pytest.skip("this build has no inference page")
    page.open("inference_results.html?q=50%2B50%3D")
    page.wait_answer("100")


def test_toggling_a_mask_cell_changes_the_weights(page):
    page.open("masks.html")
    playground = page.page.locator("#mask-playground")
    playground.scroll_into_view_if_needed()
    weights = page.page.locator("#mask-weights tbody tr")
    # the first preset: rows 3 and 4 are NaN
    assert "nan" in weights.nth(3).inner_text()
    page.page.click("#mask-api button[data-i='3'][data-j='0']")  # let query 3 see key 0
    row = weights.nth(3).inner_text().split()
    assert row[:3] == ["3", "1.0000", "0.0000"], row
    assert "nan" in weights.nth(4).inner_text()
    page.page.select_option("#mask-convention", "attend")  # this book's masked_softmax
    assert "nan" not in page.page.locator("#mask-weights").inner_text()
    page.page.get_by_role("button", name="Why −∞: softmax([1, 2, −∞])").click()
    first = page.page.locator("#mask-weights tbody tr").first.inner_text().split()
    assert first == ["0", "0.2689", "0.7311", "0.0000"], first


def shot(p: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    p.page.screenshot(path=str(SCREENSHOTS / f"live-{name}.png"), full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_light_dark_and_phone(chromium, live_server, scheme, viewport):
    size = PHONE if viewport == "phone" else DESKTOP
    for name, path in [
        ("adder", "adder_live.html?q=55%2B45%3D"),
        ("masks", "masks.html"),
    ]:
        p = Page(chromium, live_server, viewport=size, scheme=scheme)
        p.open(path)
        if name == "adder":
            p.wait_answer("100")
            p.page.wait_for_timeout(800)  # the digits' fade-in, for the screenshot
        check_scheme(p, ".live", scheme, name)
        if name == "masks":
            p.page.locator("#mask-playground").scroll_into_view_if_needed()
            p.page.locator("#mask-playground").screenshot(
                path=str(SCREENSHOTS / f"live-masks-{viewport}-{scheme}.png")
            )
        else:
            shot(p, f"{name}-{viewport}-{scheme}")
        p.close()


def luminance(css_color: str) -> float:
    r, g, b = (int(float(x)) for x in re.findall(r"[\d.]+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def check_scheme(p: Page, selector: str, scheme: str, name: str) -> None:
    """The element ``selector`` is drawn in ``scheme`` (a dark background and light text,
    or the other way round), and the page does not scroll sideways."""
    colors = p.page.evaluate(
        """(selector) => { const live = document.querySelector(selector);
        return {bg: getComputedStyle(live).backgroundColor,
                fg: getComputedStyle(live).color,
                scroll: document.documentElement.scrollWidth,
                width: window.innerWidth}; }""",
        selector,
    )
    bg, fg = (luminance(colors[k]) for k in ("bg", "fg"))
    if scheme == "dark":
        assert bg < 0.3 and fg > 0.6, colors
    else:
        assert bg > 0.8 and fg < 0.4, colors
    assert colors["scroll"] <= colors["width"], f"{name} scrolls sideways: {colors}"


def adder_page_files(p: Page) -> list[tuple[str, int]]:
    """Open the live adder, let it answer and settle: ``(url, bytes)`` of the page and of
    every file it loaded."""
    p.open("adder_live.html")
    p.wait_answer("072")
    p.page.wait_for_load_state("networkidle")
    return p.page.evaluate(
        """() => [performance.getEntriesByType('navigation')[0],
                  ...performance.getEntriesByType('resource')]
                 .map(e => [e.name, e.decodedBodySize])"""
    )


def test_the_adder_page_weighs_under_a_megabyte(chromium, live_server):
    p = Page(chromium, live_server)
    entries = adder_page_files(p)
    total = sum(size for _, size in entries)
    weights = (SITE / "_static" / "live" / "adder-model.js").stat().st_size
    print(
        f"\nadder_live.html: {total:,} bytes in {len(entries)} files, weights {weights:,}"
    )
    assert any(name.split("?")[0].endswith("adder-model.js") for name, _ in entries)
    assert weights <= 400_000
    assert total < PAGE_BUDGET, f"the page loads {total:,} bytes: {entries}"
    p.close()


# --- the page says which model it runs; the atlas, errors, long input and focus ----------------
def test_the_page_names_its_model_from_the_weights(page):
    from chapter3.adder.reference import reference_adder
    from chapter3.gpt import count_parameters

    page.open("adder_live.html")
    page.wait_answer("072")
    model, _ = reference_adder("fast")
    c = model.config
    line = page.page.locator(".live-adder .live-model").inner_text()
    assert line == (
        f"The model: width {c.d_model}, {c.num_heads} heads, {c.num_layers} layers, "
        f"feed-forward {c.d_ff}, {count_parameters(model):,} parameters."
    )
    text = page.page.locator("#the-model-on-this-page").inner_text()
    assert f"{count_parameters(model):,} parameters" in text
    # the decoder page's model, and why not that one
    assert "270,482 parameters" in text


def in_view(page: Page, selector: str) -> bool:
    return page.page.evaluate(
        """s => { const r = document.querySelector(s).getBoundingClientRect();
                  return r.top >= 0 && r.bottom <= window.innerHeight; }""",
        selector,
    )


def test_clicking_an_atlas_cell_brings_the_answer_into_view(page):
    page.open("adder_live.html")
    page.wait_answer("072")
    canvas = page.page.locator("#adder-atlas")
    canvas.scroll_into_view_if_needed()
    assert not in_view(page, "#adder-answer")  # the atlas is far below the question
    box = canvas.bounding_box()
    canvas.click(
        position={"x": 3.5 * box["width"] / 100, "y": 2.5 * box["height"] / 100}
    )
    page.wait_answer("005")  # row 2, column 3: 2+3=
    page.page.wait_for_function(
        """() => { const r = document.querySelector('#adder-answer').getBoundingClientRect();
                   return r.top >= 0 && r.bottom <= window.innerHeight; }""",
        timeout=5000,
    )
    assert in_view(page, "#adder-question")


def test_an_error_hides_the_previous_answer(page):
    page.open("adder_live.html")
    page.wait_answer("072")
    steps, maps = page.page.locator(".live-steps"), page.page.locator(".live-maps")
    assert steps.is_visible() and maps.is_visible()
    page.ask("12+345=")
    page.page.locator("#adder-error").wait_for(state="visible", timeout=5000)
    assert steps.is_hidden() and maps.is_hidden()  # hidden wins over display: grid
    assert page.page.locator(".live-steps button").first.is_hidden()
    page.ask("99+99=")
    page.wait_answer("198")
    assert steps.is_visible() and page.page.locator("#adder-error").is_hidden()


def test_a_long_question_is_cut_in_the_message(page):
    page.open("adder_live.html")
    page.wait_answer("072")
    question = "7" * 100_000 + "="
    page.page.fill("#adder-question", question)
    page.page.press("#adder-question", "Enter")
    error = page.page.locator("#adder-error")
    error.wait_for(state="visible", timeout=5000)
    text = error.inner_text()
    assert text == message(question)  # Python's words, cut the same way
    assert text.endswith("… (100,001 characters)") and len(text) < 200, text
    assert error.bounding_box()["height"] < 200


@pytest.mark.parametrize(
    "control",
    [
        "#mask-causal",
        "#mask-pad-queries",
        "#mask-playground button.live-token[data-k='1']",
        "#mask-api button[data-i='2'][data-j='0']",
    ],
)
def test_the_mask_playground_keeps_the_focus(page, control):
    page.open("masks.html")
    page.page.locator("#mask-playground").scroll_into_view_if_needed()
    before = page.page.locator("#mask-weights").inner_text()
    page.page.focus(control)
    page.page.keyboard.press("Space")
    assert page.page.locator("#mask-weights").inner_text() != before  # it did change
    assert page.page.evaluate(
        "s => document.activeElement === document.querySelector(s)", control
    ), f"the focus left {control}"
    page.page.keyboard.press("Space")  # and the reader can go on from the same control
    assert page.page.locator("#mask-weights").inner_text() == before


def test_the_mask_playground_keeps_the_focus_on_a_select(page):
    page.open("masks.html")
    page.page.focus("#mask-convention")
    page.page.select_option("#mask-convention", "attend")
    assert "nan" not in page.page.locator("#mask-weights").inner_text()
    assert page.page.evaluate("document.activeElement.id") == "mask-convention"
