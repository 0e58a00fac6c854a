"""Search that finds the page where the chapter introduces a word, with plain-text snippets.

Sphinx's search ranks pages by where a word appears (titles, objects, text), not by where the
book explains it: for "softmax" the API page and every later page that uses softmax came
before 3.3, where it is introduced. ``conf.py`` names, for each of the chapter's own words,
the page that introduces it (``search_introduced``); this extension adds a main index entry
for the word at the first paragraph of that page that uses it. Sphinx's search scores an
index entry that matches the query above any title or text match, and links the result to
the section of that paragraph, with a snippet around the word's first use there.

The result snippets are the page's text around the word. Sphinx takes them from the HTML
as served, where math is still TeX source (MathJax typesets it in the browser) and doctests
show their ``>>>`` prompts. ``search_snippets.js``, loaded on the search page only, leaves
code blocks and cell outputs out of the snippets and writes math as plain text
(``\\frac{a}{b}`` as ``a/b``, ``\\alpha`` as α).
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)


class IntroducedHere(SphinxTransform):
    """A main index entry for each word at its first use on the page that introduces it."""

    default_priority = 400

    def apply(self, **kwargs) -> None:
        docname = self.env.docname
        for word, page in self.config.search_introduced.items():
            if page != docname:
                continue
            pattern = re.compile(rf"\b{re.escape(word)}", re.IGNORECASE)
            for paragraph in self.document.findall(nodes.paragraph):
                if pattern.search(paragraph.astext()):
                    break
            else:
                logger.warning(
                    "search_introduced: %r does not appear in a paragraph of %s",
                    word,
                    docname,
                    location=docname,
                )
                continue
            # The entry points at the section around that paragraph: Sphinx cuts the result's
            # snippet from the anchored element, around the word's first use in it (a
            # paragraph's own id may render as an empty <span>, which gives no snippet).
            section = paragraph.parent
            while section is not None and not isinstance(section, nodes.section):
                section = section.parent
            if section is None or not section["ids"]:
                continue
            target = section["ids"][0]
            entry = addnodes.index(entries=[("single", word, target, "main", None)])
            paragraph.parent.insert(paragraph.parent.index(paragraph), entry)


def _search_page_script(app, pagename, templatename, context, doctree) -> None:
    if pagename == "search":
        app.add_js_file("search_snippets.js", loading_method="defer")


def setup(app):
    app.add_config_value("search_introduced", {}, "env", types=[dict])
    app.add_transform(IntroducedHere)
    app.connect("html-page-context", _search_page_script)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
