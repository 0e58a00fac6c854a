"""Every image of the book gets alt text that says what it shows, never a file name.

Two kinds of image reach the HTML without one:

* a figure that a myst-nb code cell draws: myst-nb gives it no alt, and the HTML writer then
  uses the image's file name. Like sphinx-gallery, this extension builds the alt text from the
  figure's titles: the string arguments of ``suptitle``/``set_title``/``title`` calls and of
  ``title=`` keywords in the cell's code (read from myst-nb's executed notebook, so cells whose
  input is hidden count too). A figure without titles is named after its section;
* the thumbnail of a gallery example (in the gallery index and in every minigallery): its alt
  is empty, and it gets the example's title, which the link beside it shows.

The browser tests (``tests/browser``) check that every image of every page has alt text that
is not a file name.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from docutils import nodes

_FILE_LIKE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)


def figure_titles(source: str) -> list[str]:
    """The titles a cell's plotting code sets, in order, without repeats.

    >>> figure_titles('ax.set_title("left")\\nfig.suptitle("both")\\nax.set(title="left")')
    ['left', 'both']
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        candidates = []
        if node.func.attr in ("set_title", "suptitle", "title") and node.args:
            candidates.append(node.args[0])
        candidates += [kw.value for kw in node.keywords if kw.arg == "title"]
        for value in candidates:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.append(
                    (node.lineno, node.col_offset, " ".join(value.value.split()))
                )
    titles = []
    for _, _, text in sorted(found):  # ast.walk is breadth-first: back to source order
        if text and text not in titles:
            titles.append(text)
    return titles


def needs_alt(image: nodes.image) -> bool:
    alt = image.get("alt", "").strip()
    return not alt or bool(_FILE_LIKE.search(alt)) or alt == image.get("uri")


def _cell_source(app, docname: str, cell: nodes.Element) -> str:
    for literal in cell.findall(nodes.literal_block):
        if literal.parent.get("nb_element") == "cell_code_source":
            return literal.astext()
    path = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        source = notebook["cells"][int(cell["cell_index"])]["source"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return ""
    return "".join(source) if isinstance(source, list) else source


def _section_title(node: nodes.Node) -> str:
    while node is not None and not isinstance(node, nodes.section):
        node = node.parent
    title = node.next_node(nodes.title) if node is not None else None
    return title.astext() if title is not None else "this page"


def add_alt_text(app, doctree, docname: str) -> None:
    """``doctree-resolved``: fill in the alt text of cell figures and gallery thumbnails."""
    for image in list(doctree.findall(nodes.image)):
        if not needs_alt(image):
            continue
        cell = image.parent
        while cell is not None and cell.get("nb_element") != "cell_code":
            cell = cell.parent if isinstance(cell.parent, nodes.Element) else None
        if cell is not None:
            titles = figure_titles(_cell_source(app, docname, cell))
            if titles:
                image["alt"] = "Figure: " + "; ".join(titles)
            else:
                image["alt"] = f"Figure drawn by the code of “{_section_title(image)}”"
            continue
        uri = image.get("uri", "")
        if "sphx_glr_" in uri and "_thumb" in uri:
            siblings = image.parent.children[image.parent.index(image) + 1 :]
            label = next(
                (
                    s.astext().strip()
                    for s in siblings
                    if isinstance(s, nodes.paragraph)
                ),
                "",
            )
            if label:
                image["alt"] = f"Thumbnail of the gallery example “{label}”"


def _depend_on_this_file(app, docname: str, source: list[str]) -> None:
    # A change to this extension re-reads (and so re-writes) every page; myst-nb's cache
    # keeps that from re-executing anything.
    app.env.note_dependency(__file__)


def setup(app):
    app.connect("source-read", _depend_on_this_file)
    app.connect("doctree-resolved", add_alt_text)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
