"""The trace's links to the chapter (trace.js) are the links the live page's text makes, and a
false claim of the guided path stops the build.

The page's Markdown links (``ch3_x.md#anchor``) are resolved by the book's build, which fails
on a missing page or heading (``-W``); the trace builds its own links in JavaScript, where
nothing checks them. Both must name the same sections, so that a renamed heading breaks the
build instead of the trace's links.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_traces_links_are_the_pages_links():
    page = (ROOT / "docs" / "adder_live.md").read_text(encoding="utf-8")
    section = page.split("## Trace a weight", 1)[1].split("\n## ", 1)[0]
    in_page = {
        f"{doc}.html#{anchor}"
        for doc, anchor in re.findall(
            r"\]\((ch3_[a-z0-9_]+)\.md#([a-z0-9-]+)\)", section
        )
    }
    script = (ROOT / "docs" / "_static" / "live" / "trace.js").read_text(
        encoding="utf-8"
    )
    in_script = set(re.findall(r'"(ch3_[a-z0-9_]+\.html#[a-z0-9-]+)"', script))
    assert len(in_script) >= 5, in_script
    assert in_script <= in_page, (
        f"trace.js links that the page does not: {in_script - in_page}"
    )


def test_a_false_claim_of_the_guide_stops_the_build():
    import sys

    import pytest
    from sphinx.errors import ExtensionError

    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    import adder_trace

    facts = {
        "claims": {"a head reads the ones digits": True, "55+45= gives 100": False}
    }
    with pytest.raises(ExtensionError, match="no longer describes.*55\\+45= gives 100"):
        adder_trace.check_guide(facts)
    adder_trace.check_guide({"claims": {"a head reads the ones digits": True}})
