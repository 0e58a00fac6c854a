"""The built book, opened in a real browser (Debian's Chromium, driven by Playwright).

Every HTML page of ``_build/html`` (the table of contents, the gallery, the indexes) is loaded
from a server on 127.0.0.1 and checked as a reader would meet it:

* it loads with no console error, no failed request, and no request that leaves 127.0.0.1;
* every image decodes and has alt text that is not a file name; math is typeset;
* the copy button copies code without ``>>>``/``...`` prompts and without output lines (read
  back from the clipboard), and output blocks have no copy button;
* its download links (the page's notebook and script, the gallery's files, the wheel) resolve;
* the theme toggles to dark mode and back, and at a phone's width (390 px) the page does not
  scroll sideways.

Screenshots of the landing page, 3.3 and a gallery page (light, dark, phone) are written to
``_build/screenshots/``. Run with ``make browser`` (part of ``make test``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from book_server import SCREENSHOTS, SITE

pytestmark = pytest.mark.browser

SKIP_DIRS = {"_sources", "_static", "_images", "_downloads", "run-it"}
SCREENSHOT_PAGES = {
    "index.html": "landing",
    "ch3_3_simple_self_attention.html": "ch3_3",
    "auto_gallery/masks/plot_masks.html": "gallery_masks",
}
CODE_PAGES_WITHOUT_DOWNLOADS = {"run_it_yourself.html"}  # shell commands only
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
_IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)
_PROMPT = re.compile(r"^(>>> |\.\.\. )")
_CODE = "div:not(.output):not(.sphx-glr-script-out) > div.highlight pre"


def book_pages() -> list[str]:
    if not SITE.is_dir():
        return ["index.html"]  # the site fixture then says what to do
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if not SKIP_DIRS.intersection(p.relative_to(SITE).parts)
    )


def is_file_name(alt: str) -> bool:
    """Alt text that is only a file name or a path says nothing about the image.

    >>> is_file_name("sphx_glr_plot_masks_001.png"), is_file_name("sphx_glr_plot_masks")
    (True, True)
    >>> is_file_name("Figure: causal_attend_mask(5): query i sees keys 0..i")
    False
    """
    alt = alt.strip()
    return bool(
        _IMAGE_FILE.search(alt)
        or ("/" in alt and " " not in alt)
        or (re.fullmatch(r"[\w.-]+", alt) and "_" in alt)
    )


def copied_code(shown: str) -> str:
    """What a copy button must put on the clipboard for a block that shows ``shown``."""
    lines = shown.rstrip("\n").split("\n")
    if not any(_PROMPT.match(line) for line in lines):
        return "\n".join(lines)
    return "\n".join(line[4:] for line in lines if _PROMPT.match(line))


def luminance(css_color: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.fixture(scope="module")
def context(browser, base_url):
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=base_url[:-1]
    )
    outside: list[str] = []

    def keep_local(route, request):
        if request.url.startswith(base_url[:-1]):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    context.route("**/*", keep_local)
    context.outside = outside
    yield context
    context.close()


class Watch:
    """Console errors, page errors and failed requests of one page."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "requestfailed",
            lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"),
        )
        page.on(
            "response",
            lambda r: (
                r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}")
            ),
        )


def wait_for_math(page) -> None:
    page.evaluate(
        "() => (window.MathJax && MathJax.startup && MathJax.startup.promise)"
        " ? MathJax.startup.promise.then(() => true) : true"
    )


def check_images(page) -> list[str]:
    images = page.evaluate(
        """async () => {
        const imgs = [...document.images];
        imgs.forEach(img => { img.loading = 'eager'; });
        await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
            img.addEventListener('load', done);
            img.addEventListener('error', done);
            setTimeout(done, 10000);
        })));
        return imgs.map(img => ({src: img.getAttribute('src'), alt: img.alt,
                                 width: img.naturalWidth}));
    }"""
    )
    problems = []
    for image in images:
        if image["width"] <= 0:
            problems.append(f"image does not decode: {image['src']}")
        if not image["alt"].strip() or is_file_name(image["alt"]):
            problems.append(
                f"image without real alt text: {image['src']} ({image['alt']!r})"
            )
    return problems


def check_math(page) -> list[str]:
    math = page.evaluate(
        """() => {
        const all = [...document.querySelectorAll('.math')];
        return {total: all.length,
                typeset: all.filter(e => e.querySelector('mjx-container')).length};
    }"""
    )
    if math["typeset"] != math["total"]:
        return [f"math not typeset: {math['typeset']} of {math['total']}"]
    return []


def check_copy(page) -> list[str]:
    problems = []
    blocks = page.locator(_CODE)
    if blocks.count() == 0:
        return []
    buttons = page.locator("button.copybtn")
    if buttons.count() != blocks.count():
        problems.append(
            f"{blocks.count()} code blocks but {buttons.count()} copy buttons"
        )
    if page.locator(
        ".output button.copybtn, .sphx-glr-script-out button.copybtn"
    ).count():
        problems.append("an output block has a copy button")
    # The first block a reader can see (an exercise's dropdown may hide others).
    prompt_blocks = page.locator("div.highlight-pycon > div.highlight pre:visible")
    visible = page.locator(f"{_CODE}:visible")
    if not visible.count():
        return problems
    block = prompt_blocks.first if prompt_blocks.count() else visible.first
    shown = block.inner_text()
    block.hover()
    block.locator("xpath=..").locator("button.copybtn").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    if copied.rstrip("\n") != copied_code(shown):
        problems.append(
            f"the copy button copied:\n{copied}\n--- instead of:\n{copied_code(shown)}"
        )
    if any(_PROMPT.match(line) for line in copied.splitlines()):
        problems.append("the copied code still has prompts")
    return problems


def check_downloads(page, context, name: str) -> list[str]:
    problems = []
    # Code the book ran: doctest examples and notebook cells (a page that only shows a shell
    # command or a plain listing offers nothing to run).
    has_code = page.locator("div.highlight-pycon, div.cell").count()
    if name.startswith("auto_gallery/") and "/plot_" in name:
        wanted = [".sphx-glr-download-jupyter a", ".sphx-glr-download-python a"]
    elif (
        has_code
        and name not in CODE_PAGES_WITHOUT_DOWNLOADS
        and not name.startswith("auto_gallery/")
    ):
        wanted = ["a.takeaway-notebook", "a.takeaway-script"]
        top = page.locator("article p.takeaway")
        if top.count() != 1:
            problems.append("no download line at the top of the page")
        else:
            text = top.inner_text()
            if (
                "Download this page as a notebook" not in text
                or "Python script" not in text
            ):
                problems.append(f"the download line says {text!r}")
    else:
        wanted = []
    for selector in wanted:
        if page.locator(selector).count() == 0:
            problems.append(f"missing download link {selector}")
    links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    for url in sorted(set(links)):
        if not re.search(r"\.(ipynb|py|whl|zip)$", url.split("#")[0]):
            continue
        response = context.request.get(url)
        if not response.ok:
            problems.append(f"download link {url}: HTTP {response.status}")
        elif url.endswith(".ipynb"):
            notebook = json.loads(response.body())
            if notebook.get("nbformat") != 4 or not notebook.get("cells"):
                problems.append(f"{url} is not a notebook")
    return problems


def set_theme(page, theme: str) -> None:
    for _ in range(4):
        if page.evaluate("() => document.body.dataset.theme") == theme:
            return
        page.locator("button.theme-toggle:visible").first.click()
    raise AssertionError(f"the theme toggle never reached {theme!r}")


def check_theme(page, theme: str) -> list[str]:
    set_theme(page, theme)
    colors = page.evaluate(
        """() => {
        const article = document.querySelector('article') || document.body;
        return {bg: getComputedStyle(document.body).backgroundColor,
                fg: getComputedStyle(article).color};
    }"""
    )
    bg, fg = luminance(colors["bg"]), luminance(colors["fg"])
    dark = theme == "dark"
    if (dark and not (bg < 0.25 and fg > 0.6)) or (
        not dark and not (bg > 0.8 and fg < 0.4)
    ):
        return [
            f"{theme} mode is not readable: background {colors['bg']}, text {colors['fg']}"
        ]
    return []


def check_phone(page) -> list[str]:
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(100)
    overflow = page.evaluate(
        """() => {
        const width = window.innerWidth;
        if (document.documentElement.scrollWidth <= width) return [];
        const scrolls = el => { for (let e = el.parentElement; e; e = e.parentElement) {
            const o = getComputedStyle(e).overflowX;
            if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
            return false; };
        return [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1 && !scrolls(e))
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.'));
    }"""
    )
    if overflow:
        return [f"the page scrolls sideways at 390 px: {overflow}"]
    return []


def screenshot(page, name: str, variant: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{variant}.png"))


@pytest.mark.parametrize("name", book_pages())
def test_page(context, base_url, name):
    page = context.new_page()
    watch = Watch(page)
    page.goto(base_url + name, wait_until="load")
    wait_for_math(page)
    problems = list(watch.problems)
    problems += check_images(page)
    problems += check_math(page)
    shot = SCREENSHOT_PAGES.get(name)
    problems += check_theme(page, "dark")
    if shot:
        screenshot(page, shot, "dark")
    problems += check_theme(page, "light")
    if shot:
        screenshot(page, shot, "light")
    problems += check_copy(page)
    problems += check_downloads(page, context, name)
    page.evaluate("() => window.scrollTo(0, 0)")
    problems += check_phone(page)
    if shot:
        screenshot(page, shot, "phone")
    problems += [p for p in watch.problems if p not in problems]
    outside = list(context.outside)
    context.outside.clear()
    problems += [f"request leaves 127.0.0.1: {url}" for url in outside]
    page.close()
    assert not problems, f"{name}:\n  - " + "\n  - ".join(problems)


def test_search_finds_simple_self_attention(context, base_url):
    page = context.new_page()
    watch = Watch(page)
    page.goto(base_url + "search.html?q=softmax", wait_until="load")
    page.wait_for_selector("ul.search li", timeout=20000)
    hrefs = page.eval_on_selector_all(
        "ul.search li a", "links => links.map(a => a.href)"
    )
    assert any("ch3_3_simple_self_attention.html" in h for h in hrefs), hrefs
    assert not watch.problems, watch.problems
    page.close()


@pytest.mark.parametrize("name", ["index.html", "ch3_3_simple_self_attention.html"])
def test_opens_from_file(browser, name, site):
    """A reader may open the built book straight from disk, without any server."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page)
    page.goto((site / name).as_uri(), wait_until="load")
    wait_for_math(page)
    problems = watch.problems + check_images(page) + check_math(page)
    assert page.locator("article h1").count() == 1
    context.close()
    assert not problems, f"{name} from file://:\n  - " + "\n  - ".join(problems)


def test_every_code_page_has_its_downloads(site):
    """Every page whose HTML shows code the book ran carries the two download links."""
    missing = []
    for html in sorted(site.glob("*.html")):
        text = html.read_text(encoding="utf-8")
        has_code = re.search(r'class="(highlight-pycon|cell)[ "]', text)
        if has_code and html.name not in CODE_PAGES_WITHOUT_DOWNLOADS:
            if "Download this page as a notebook" not in text:
                missing.append(html.name)
            for suffix in (".ipynb", ".py"):
                if not (site / "run-it" / (html.stem + suffix)).is_file():
                    missing.append(f"run-it/{html.stem}{suffix}")
    assert not missing, missing


def test_screenshots_were_taken():
    """Runs last in this file: the three pages were shot light, dark and at phone width."""
    expected = {
        f"{n}-{v}.png"
        for n in SCREENSHOT_PAGES.values()
        for v in ("light", "dark", "phone")
    }
    taken = {p.name for p in Path(SCREENSHOTS).glob("*.png")}
    assert expected <= taken, sorted(expected - taken)
