"""Picture first: each chapter page, the decoder page and the landing page open with a figure.

At 1280 x 800 (a laptop's first screen), light and dark, the page shows an image whose top
lies within the first screen and above the first code block, so a reader meets the idea
before the code; the landing page also links "Start at 3.1" and "Try the adder live" there.
Screenshots of 3.3, 3.4, 3.6 and the landing page (light and dark) are
written to ``_build/screenshots/first-screen-*.png``. Run with ``make browser``.
"""

from __future__ import annotations

import pytest
from book_server import SCREENSHOTS

pytestmark = pytest.mark.browser

FIRST_SCREEN = {"width": 1280, "height": 800}
PAGES = [
    "index",
    "ch3_1_long_sequences",
    "ch3_2_attention_dependencies",
    "ch3_3_simple_self_attention",
    "ch3_4_trainable_weights",
    "ch3_5_causal_attention",
    "ch3_6_multi_head",
    "gpt_decoder",
]
SHOTS = {
    "index": "landing",
    "ch3_3_simple_self_attention": "ch3_3",
    "ch3_4_trainable_weights": "ch3_4",
    "ch3_6_multi_head": "ch3_6",
}

# The top of the first visible image and of the first visible code block, in page pixels.
_FIRST = """() => {
    const article = document.querySelector('article') || document.body;
    const shown = e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
    };
    const top = e => e.getBoundingClientRect().top + window.scrollY;
    const first = selector => {
        const found = [...article.querySelectorAll(selector)].filter(shown).map(top);
        return found.length ? Math.min(...found) : null;
    };
    return {image: first('img'), code: first('div.highlight pre'),
            decoded: [...article.querySelectorAll('img')].filter(shown)
                .every(i => i.complete && i.naturalWidth > 0)};
}"""


def first_image_and_code(page) -> dict:
    return page.evaluate(_FIRST)


def problems_of(found: dict, height: int) -> list[str]:
    """What is wrong with a page's first screen, given the tops found by ``_FIRST``.

    >>> problems_of({"image": 300, "code": 900, "decoded": True}, 800)
    []
    >>> problems_of({"image": 1200, "code": 500, "decoded": True}, 800)
    ['the first image starts at 1200 px, below the first screen (800 px)', \
'the first code block (500 px) comes before the first image (1200 px)']
    >>> problems_of({"image": None, "code": 500, "decoded": True}, 800)
    ['no image on the page']
    """
    image, code = found["image"], found["code"]
    if image is None:
        return ["no image on the page"]
    problems = []
    if image >= height:
        problems.append(
            f"the first image starts at {image:.0f} px, below the first screen "
            f"({height} px)"
        )
    if code is not None and code < image:
        problems.append(
            f"the first code block ({code:.0f} px) comes before the first image "
            f"({image:.0f} px)"
        )
    if not found["decoded"]:
        problems.append("an image on the page did not decode")
    return problems


# Where a newcomer goes next: both links on the landing page's first screen.
_LINKS = """() => [...document.querySelectorAll('article a')].map(a => ({
    text: a.textContent.trim(), top: a.getBoundingClientRect().top + window.scrollY,
    href: a.getAttribute('href')}))"""


def test_the_landing_page_offers_where_to_start(browser, base_url):
    context = browser.new_context(viewport=FIRST_SCREEN)
    page = context.new_page()
    try:
        page.goto(f"{base_url}index.html", wait_until="load")
        links = page.evaluate(_LINKS)
    finally:
        context.close()
    wanted = {
        "Start at 3.1": "ch3_1_long_sequences.html",
        "Try the adder live": "adder_live.html",
    }
    for text, target in wanted.items():
        found = [link for link in links if link["text"].startswith(text)]
        assert found, f"no link {text!r} on the landing page"
        assert found[0]["href"].startswith(target), found[0]
        assert found[0]["top"] < FIRST_SCREEN["height"], (
            f"{text!r} is below the first screen"
        )


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_a_figure_opens_the_page(browser, base_url, name, scheme):
    context = browser.new_context(viewport=FIRST_SCREEN, color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(f"{base_url}{name}.html", wait_until="load")
        page.wait_for_load_state("networkidle")
        problems = problems_of(first_image_and_code(page), FIRST_SCREEN["height"])
        if name in SHOTS:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(SCREENSHOTS / f"first-screen-{SHOTS[name]}-{scheme}.png")
            )
    finally:
        context.close()
    assert not problems, f"{name} ({scheme}):\n  - " + "\n  - ".join(problems)
