"""The book works offline: no page may make the reader's browser fetch a script or stylesheet.

MathJax is bundled (see ``conf.py``); furo and myst-nb load nothing from outside. The one
offender is sphinx-gallery's execution-times page, whose table sorting loads jQuery, Bootstrap
and DataTables from CDNs: that raw HTML block is dropped when the page is read (the table
itself stays, unsorted). After the build, every HTML page is scanned, and a remote
``<script src>`` or stylesheet ``<link href>`` is a warning, so ``-W`` fails the build.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

_CDN_BLOCK = re.compile(
    r"\n[ \t]*\.\. raw:: html\n.*?(?=\n[ \t]*\.\. list-table::)", re.DOTALL
)
_REMOTE = re.compile(
    r"<script[^>]*\ssrc=\"(https?:)?//[^\"]+\"|<link[^>]*\shref=\"(https?:)?//[^\"]+\.css[^\"]*\"",
    re.IGNORECASE,
)


def _drop_cdn_block(app, docname: str, source: list[str]) -> None:
    if docname.endswith("sg_execution_times"):
        source[0] = _CDN_BLOCK.sub("\n", source[0])


def remote_assets(html: str) -> list[str]:
    """The remote scripts and stylesheets an HTML page would load."""
    return [m.group(0) for m in _REMOTE.finditer(html)]


def _check_pages(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in sorted(Path(app.outdir).rglob("*.html")):
        for tag in remote_assets(page.read_text(encoding="utf-8", errors="replace")):
            logger.warning(
                "%s loads a remote asset, the book must work offline: %s",
                page.relative_to(app.outdir),
                tag,
            )


def setup(app):
    app.connect("source-read", _drop_cdn_block)
    app.connect("build-finished", _check_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
