"""Reading the built book at a desktop's width: no code that scrolls sideways, search that
finds the chapter page first, and a site that is light to download.

* At 1280 px no code block of any page (listings, doctests, cell outputs, gallery output)
  is wider than its box: a reader never scrolls a block sideways to read the end of a line.
  Light and dark mode lay code out at the same width, so one scheme is measured.
* The book's search ranks the chapter page that introduces a word first for the chapter's
  own words, and its result snippets are plain text: no TeX source, no doctest prompts.
* The whole ``_build/html`` stays under 15 MB; the live adder page transfers under 1 MB and a
  chapter page under its own budget; a page in light mode never downloads a dark figure.

Run with ``make browser`` (part of ``make test``), on a built book.
"""

from __future__ import annotations

import re

import pytest
from book_server import SITE
from test_book import DESKTOP, Watch, book_pages, wait_for_math

pytestmark = pytest.mark.browser

SITE_BUDGET = 15 * 2**20  # the whole built book
MATHJAX_BUDGET = 2.5 * 2**20  # _static/mathjax: what the pages load
PAGE_BUDGETS = {  # bytes transferred to open the page and scroll to its end
    "adder_live.html": 1 * 2**20,
    "ch3_3_simple_self_attention.html": 2 * 2**20,
}
# The page of the chapter that introduces each word: search must rank it first.
SEARCH_FIRST = {
    "softmax": "ch3_3_simple_self_attention.html",
    "query": "ch3_3_simple_self_attention.html",
    "causal": "ch3_5_causal_attention.html",
    "mask": "ch3_5_causal_attention.html",
}


@pytest.fixture(scope="module")
def desktop(browser, base_url):
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    context.route(
        "**/*",
        lambda route, request: (
            route.continue_()
            if request.url.startswith(base_url[:-1])
            else route.abort()
        ),
    )
    yield context
    context.close()


WIDE_CODE = """() => [...document.querySelectorAll('pre')]
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => {
        const line = pre.innerText.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '');
        return `${pre.scrollWidth - pre.clientWidth} px too wide: ${line.slice(0, 100)}`;
    })"""


@pytest.mark.parametrize("name", book_pages())
def test_no_code_block_scrolls_sideways(desktop, base_url, name):
    page = desktop.new_page()
    page.goto(base_url + name, wait_until="load")
    wait_for_math(page)
    wide = page.evaluate(WIDE_CODE)
    page.close()
    assert not wide, (
        f"{name}: {len(wide)} code blocks scroll sideways:\n  " + "\n  ".join(wide)
    )


def search(page, base_url, word: str) -> list[dict]:
    page.goto(base_url + f"search.html?q={word}", wait_until="load")
    page.wait_for_selector("ul.search li", timeout=20000)
    # the snippets are filled in after the list, one page fetch each (objects get none)
    page.wait_for_function(
        "() => (document.querySelector('#search-results p.search-summary') || {})"
        ".innerText?.startsWith('Search finished')",
        timeout=30000,
    )
    # "Search finished" comes when the list is drawn; each snippet arrives with its own
    # fetch of the result's page, and a large page (3.3) can come after that message
    page.wait_for_function(
        "() => document.querySelector('ul.search li:first-child p.context')"
        " || document.querySelectorAll('ul.search li').length === 0",
        timeout=30000,
    )
    return page.eval_on_selector_all(
        "ul.search li",
        """items => items.map(li => ({
            href: li.querySelector('a').getAttribute('href'),
            snippet: (li.querySelector('p.context') || {}).textContent || ''}))""",
    )


@pytest.mark.parametrize("word", sorted(SEARCH_FIRST))
def test_search_ranks_the_chapter_page_first(desktop, base_url, word):
    page = desktop.new_page()
    watch = Watch(page)
    results = search(page, base_url, word)
    page.close()
    ranked = [r["href"].split("#")[0].split("?")[0] for r in results]
    assert ranked[0] == SEARCH_FIRST[word], f"{word!r}: {ranked[:8]}"
    assert results[0]["snippet"], f"{word!r}: the first result has no snippet"
    for result in results[:10]:
        snippet = result["snippet"]
        for raw in (">>>", "$$", "\\(", "\\["):
            assert raw not in snippet, f"{word!r}: a snippet shows {raw!r}: {snippet!r}"
        tex = re.search(r"\\[A-Za-z]+", snippet)
        assert not tex, f"{word!r}: a snippet shows TeX {tex[0]!r}: {snippet!r}"
    assert not watch.problems, watch.problems


def test_the_site_is_light():
    assert (SITE / "index.html").is_file(), "run `make html` first"
    assert not (SITE / ".doctrees").exists(), "the doctrees belong outside the site"
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    assert size <= SITE_BUDGET, f"_build/html is {size / 2**20:.1f} MB"
    mathjax = sum(
        p.stat().st_size
        for p in (SITE / "_static" / "mathjax").rglob("*")
        if p.is_file()
    )
    assert mathjax <= MATHJAX_BUDGET, f"MathJax is {mathjax / 2**20:.1f} MB"


def transferred(context, base_url, name: str) -> tuple[int, list[str]]:
    """Bytes a reader downloads to open ``name`` and scroll to its end; and the URLs."""
    page = context.new_page()
    sizes: dict[str, int] = {}

    def count(request):
        size = request.sizes()
        sizes[request.url] = size["responseBodySize"] + size["responseHeadersSize"]

    page.on("requestfinished", count)
    page.goto(base_url + name, wait_until="load")
    wait_for_math(page)
    height = page.evaluate("() => document.body.scrollHeight")
    for y in range(0, height + DESKTOP["height"], DESKTOP["height"] // 2):
        page.evaluate(f"() => window.scrollTo(0, {y})")
        page.wait_for_timeout(50)
    page.wait_for_load_state("networkidle")
    page.close()
    return sum(sizes.values()), sorted(sizes)


@pytest.mark.parametrize("name", sorted(PAGE_BUDGETS))
def test_page_weight(desktop, base_url, name):
    total, urls = transferred(desktop, base_url, name)
    assert total <= PAGE_BUDGETS[name], (
        f"{name} transfers {total / 1024:.0f} KB:\n  " + "\n  ".join(urls)
    )
    dark = [u for u in urls if "_dark." in u or "-dark." in u]
    assert not dark, f"{name} in light mode downloads dark figures: {dark}"


def test_every_listing_links_its_full_source(desktop, base_url):
    """The note under each listing links the module's source at the object, and its API entry."""
    pages = [
        p for p in book_pages() if 'class="listing-note"' in (SITE / p).read_text()
    ]
    assert pages, "no page shows a teaching listing"
    page = desktop.new_page()
    problems = []
    for name in pages:
        page.goto(base_url + name, wait_until="load")
        notes = page.eval_on_selector_all(
            "p.listing-note",
            """notes => notes.map(n => ({
                source: (n.querySelector('a.listing-source') || {}).href,
                api: (n.querySelector('a.reference.internal code.xref') || null) !== null}))""",
        )
        for note in notes:
            if not note["api"]:
                problems.append(f"{name}: a listing note without its API link")
            if not note["source"]:
                problems.append(f"{name}: a listing note without its source link")
                continue
            url, _, anchor = note["source"].partition("#")
            target = desktop.new_page()
            response = target.goto(url, wait_until="load")
            if not response.ok or not target.locator(f'[id="{anchor}"]').count():
                problems.append(f"{name}: {note['source']} does not lead to the code")
            target.close()
    page.close()
    assert not problems, "\n".join(problems)
