"""Take a page home: every page with code becomes a notebook and a Python script at build time.

Both files are made from the page's own doctree, after Sphinx resolved it, so they cannot drift
from what the page shows:

* prose becomes Markdown cells (math stays ``$...$``, figures are embedded as attachments);
* every ``{doctest}`` block (and every ``>>>`` block of a docstring) becomes code cells, split so
  that each cell ends with the example whose output the page shows; that checked output is the
  cell's output, and the cell's metadata ``checked`` holds the doctest option flags, so a test
  can run the notebook and compare (``tests/reader``);
* a listing included with ``literalinclude`` from a Python module becomes a code cell holding
  the listing, preceded by the imports it needs from its module (``from chapter3.x import
  _helper``); a listing that is not valid Python on its own (a method) stays a Markdown code
  block;
* a myst-nb code cell becomes the same code cell, with the outputs it had when the page was
  built (read from myst-nb's executed notebook).

Whatever wraps these (admonitions, dropdowns, figures, unknown containers) is walked through,
so code nested in an exercise's dropdown is still a code cell, in page order. Images with the
class ``only-dark`` are left out (their light twin is kept).

The files land in ``<outdir>/run-it/<docname>.ipynb`` and ``.py`` (jupytext's percent format:
``# %%`` cells, prose as comments, each checked output as a comment under its code). The page
gets two links at its top, "Download this page as a notebook" and "... as a Python script".
The first code cell of both is the book's ``doctest_global_setup``: the doctests ran with it.
"""

from __future__ import annotations

import ast
import base64
import doctest
import fnmatch
import json
import mimetypes
import re
import textwrap
from pathlib import Path

from docutils import nodes
from light_site import palette_bytes
from sphinx.util import logging
from sphinx.util.osutil import relative_uri

logger = logging.getLogger(__name__)

OUT_DIR = "run-it"
NOTEBOOK_LINK = "Download this page as a notebook"
SCRIPT_LINK = "… as a Python script"
_DOCTEST_FLAG = re.compile(r"[ \t]*#\s*doctest:.*$", re.MULTILINE)
_BLANKLINE = re.compile(r"^<BLANKLINE>$", re.MULTILINE)
_FLAG_NAMES = {value: name for name, value in doctest.OPTIONFLAGS_BY_NAME.items()}
# Nodes that carry nothing a reader of a notebook needs.
_SKIP = (
    nodes.comment,
    nodes.target,
    nodes.raw,
    nodes.substitution_definition,
    nodes.system_message,
    nodes.Invisible,
)


# --- small helpers ------------------------------------------------------------------------
def flag_names(flags: int) -> list[str]:
    """The names of doctest option flags set in ``flags``.

    >>> flag_names(doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ['ELLIPSIS', 'NORMALIZE_WHITESPACE']
    """
    return sorted(name for value, name in _FLAG_NAMES.items() if flags & value)


def escape_markdown(text: str) -> str:
    r"""Escape the characters that Markdown (and Jupyter's math) would read as markup.

    >>> escape_markdown("x_i costs $5 * 2")
    'x\\_i costs \\$5 \\* 2'
    """
    return re.sub(r"([\\`*_$<\[\]])", r"\\\1", text)


def inline_code(text: str) -> str:
    """A Markdown code span that survives backticks inside ``text``.

    >>> inline_code("a`b")
    '`` a`b ``'
    """
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def fence(code: str, language: str = "") -> str:
    """A fenced Markdown code block, long enough for any backticks in ``code``."""
    ticks = "```"
    while ticks in code:
        ticks += "`"
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}"


def module_name(path: Path) -> str | None:
    """The dotted module name of ``path`` when it sits in a package, else ``None``."""
    path = Path(path).resolve()
    if path.suffix != ".py" or not (path.parent / "__init__.py").is_file():
        return None
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _bound_names(stmt: ast.stmt) -> list[str]:
    """Names that a top-level statement of a module binds."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    names = []
    for target in targets:
        names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


def listing_imports(code: str, path: Path) -> list[str] | None:
    """The import lines that make a listing from module ``path`` run on its own.

    Returns ``None`` when the listing cannot run on its own: it is not valid Python by itself
    (a method, a fragment), or ``path`` is not a module of a package. Otherwise: the module's
    own imports that the listing uses, then ``from <module> import ...`` for the module's
    top-level names (helpers, constants) that it uses but does not define.
    """
    module = module_name(path)
    if module is None or code != textwrap.dedent(code):
        return None
    try:
        tree = ast.parse(code)
        module_tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (SyntaxError, OSError, UnicodeDecodeError):
        return None
    defined = {name for stmt in tree.body for name in _bound_names(stmt)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - defined
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    lines, helpers = [], []
    for stmt in module_tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            lines.append(ast.unparse(stmt))
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound in used:
                    lines.append(ast.unparse(ast.Import(names=[alias])))
                    used.discard(bound)
        elif isinstance(stmt, ast.ImportFrom):
            source = stmt.module or ""
            if stmt.level:
                base = package.split(".")
                base = base[: len(base) - (stmt.level - 1)]
                source = ".".join(base + ([stmt.module] if stmt.module else []))
            for alias in stmt.names:
                bound = alias.asname or alias.name
                if bound in used:
                    as_part = f" as {alias.asname}" if alias.asname else ""
                    lines.append(f"from {source} import {alias.name}{as_part}")
                    used.discard(bound)
        else:
            for name in _bound_names(stmt):
                if name in used and name not in helpers:
                    helpers.append(name)
    if helpers:
        lines.append(f"from {module} import {', '.join(helpers)}")
    return lines


# --- the cells ----------------------------------------------------------------------------
class Cells:
    """The cells of one page, in order; Markdown paragraphs pile up until code comes."""

    def __init__(self) -> None:
        self.cells: list[dict] = []
        self._markdown: list[str] = []
        self.attachments: dict[str, dict[str, str]] = {}

    def markdown(self, text: str) -> None:
        if text.strip():
            self._markdown.append(text.strip("\n"))

    def flush(self) -> None:
        if self._markdown:
            cell = {"cell_type": "markdown", "source": "\n\n".join(self._markdown)}
            used = {
                name: data
                for name, data in self.attachments.items()
                if f"(attachment:{name})" in cell["source"]
            }
            if used:
                cell["attachments"] = used
            self.cells.append(cell)
            self._markdown = []

    def code(self, source: str, outputs=(), metadata=None, kind: str = "code") -> dict:
        self.flush()
        cell = {
            "cell_type": "code",
            "source": source.rstrip("\n"),
            "outputs": list(outputs),
            "metadata": dict(metadata or {}),
            "execution_count": None,
            "kind": kind,  # removed before writing; tells the script writer what it is
        }
        self.cells.append(cell)
        return cell

    def finish(self) -> list[dict]:
        self.flush()
        return self.cells

    @property
    def has_code(self) -> bool:
        return any(c["cell_type"] == "code" for c in self.cells)


def _output_for(source: str, want: str) -> dict:
    """The output a notebook shows for the last example of a cell whose output is ``want``."""
    text = _BLANKLINE.sub("", want)
    try:
        last = ast.parse(source).body[-1]
    except (SyntaxError, IndexError):
        last = None
    is_expression = isinstance(last, ast.Expr) and not (
        isinstance(last.value, ast.Call)
        and isinstance(last.value.func, ast.Name)
        and last.value.func.id == "print"
    )
    if is_expression:
        return {
            "output_type": "execute_result",
            "execution_count": None,
            "data": {"text/plain": text.rstrip("\n")},
            "metadata": {},
        }
    return {"output_type": "stream", "name": "stdout", "text": text}


def print_nested_values(source: str) -> str:
    r"""Wrap the expression statements nested in a compound statement in ``print()``.

    A doctest runs each example as Python's interactive prompt does, which shows the value of
    an expression statement even inside a ``with`` or ``for`` block; a notebook shows only the
    value of a cell's last top-level expression. So that the cell shows what the page checked,
    such nested expressions are printed explicitly (``print`` shows ``True`` or a tensor as the
    prompt did).

    >>> print_nested_values("with ctx:\n    x == 1\n")
    'with ctx:\n    print(x == 1)\n'
    >>> print_nested_values("x == 1\n")
    'x == 1\n'
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    if not tree.body or isinstance(tree.body[-1], ast.Expr):
        return source
    nested = [
        node
        for statement in tree.body
        if not isinstance(
            statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        )
        for node in ast.walk(statement)
        if isinstance(node, ast.Expr)
        and not (isinstance(node.value, ast.Call) and _is_print(node.value))
        and not (isinstance(node.value, ast.Constant))
    ]
    lines = source.splitlines(keepends=True)
    for node in sorted(nested, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        end = lines[node.end_lineno - 1]
        lines[node.end_lineno - 1] = (
            end[: node.end_col_offset] + ")" + end[node.end_col_offset :]
        )
        start = lines[node.lineno - 1]
        lines[node.lineno - 1] = (
            start[: node.col_offset] + "print(" + start[node.col_offset :]
        )
    return "".join(lines)


def _is_print(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == "print"


def doctest_cells(cells: Cells, text: str, default_flags: int, trim: bool) -> None:
    """Add the code cells of one doctest block: each cell ends at a checked output."""
    try:
        examples = doctest.DocTestParser().get_examples(text)
    except ValueError as error:  # not a valid doctest: show it as it is
        logger.warning(f"takeaway: a doctest block could not be parsed: {error}")
        cells.markdown(fence(text, "pycon"))
        return
    pending: list[doctest.Example] = []

    def emit(group: list[doctest.Example], last_want: str | None) -> None:
        if not group:
            return
        sources = [ex.source for ex in group]
        if trim:
            sources = [_DOCTEST_FLAG.sub("", s) for s in sources]
        source = "".join(sources)
        flags = default_flags
        for example in group:
            for flag, on in example.options.items():
                flags = flags | flag if on else flags & ~flag
        outputs = []
        checked = {"optionflags": flag_names(flags)}
        last = group[-1]
        if last.exc_msg is not None:
            name, _, message = last.exc_msg.strip().partition(":")
            outputs.append(
                {
                    "output_type": "error",
                    "ename": name.strip(),
                    "evalue": message.strip(),
                    "traceback": [last.exc_msg.strip()],
                }
            )
            metadata = {"tags": ["raises-exception"], "checked": checked}
            cells.code(source, outputs, metadata, kind="error")
            return
        if last_want:
            sources[-1] = print_nested_values(sources[-1])
            source = "".join(sources)
            outputs.append(_output_for(sources[-1], last_want))
            cells.code(source, outputs, {"checked": checked}, kind="checked")
        else:
            cells.code(source, outputs, {}, kind="code")

    for example in examples:
        if doctest.SKIP in {f for f, on in example.options.items() if on}:
            continue
        if example.exc_msg is not None:
            emit(pending, None)
            pending = []
            emit([example], None)
        elif example.want:
            emit(pending + [example], example.want)
            pending = []
        else:
            pending.append(example)
    emit(pending, None)


class PageConverter:
    """Walk a resolved doctree and collect its cells."""

    def __init__(self, app, docname: str) -> None:
        self.app = app
        self.docname = docname
        self.cells = Cells()
        config = app.config
        self.default_flags = getattr(config, "doctest_default_flags", 0) or 0
        self.trim = getattr(config, "trim_doctest_flags", True)
        self.executed = self._executed_notebook()

    # myst-nb writes the notebook it executed for a page to <outdir>/../jupyter_execute/.
    def _executed_notebook(self) -> dict | None:
        path = (
            Path(self.app.outdir).parent / "jupyter_execute" / f"{self.docname}.ipynb"
        )
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # -- blocks ---------------------------------------------------------------------------
    def convert(self, doctree) -> list[dict]:
        self.blocks(doctree, depth=0)
        return self.cells.finish()

    def blocks(self, node, depth: int) -> None:
        for child in node.children:
            self.block(child, depth)

    def block(self, node, depth: int) -> None:  # noqa: C901 - one branch per node kind
        cells = self.cells
        if isinstance(node, nodes.Text):
            cells.markdown(escape_markdown(str(node)))
            return
        if isinstance(node, _SKIP) and not (
            isinstance(node, nodes.comment) and node.get("testnodetype")
        ):
            return
        if node.get("nb_element") == "cell_code":
            self.myst_nb_cell(node)
            return
        if isinstance(node, nodes.section):
            self.blocks(node, depth + 1)
        elif isinstance(node, nodes.title):
            cells.flush()
            cells.markdown("#" * max(depth, 1) + " " + self.inline(node))
            if depth <= 1:  # the page title is a cell of its own
                cells.flush()
        elif isinstance(node, nodes.paragraph):
            cells.markdown(self.inline(node))
        elif isinstance(
            node, (nodes.literal_block, nodes.doctest_block, nodes.comment)
        ):
            self.literal(node)
        elif isinstance(node, nodes.math_block):
            cells.markdown(f"$$\n{node.astext().strip()}\n$$")
        elif isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
            cells.markdown(self.list_text(node))
        elif isinstance(node, nodes.image):
            cells.markdown(self.image(node))
        elif isinstance(node, nodes.figure):
            self.blocks(node, depth)
        elif isinstance(node, nodes.caption):
            cells.markdown(f"*{self.inline(node)}*")
        elif isinstance(node, nodes.table):
            cells.markdown(self.table(node))
        elif isinstance(node, nodes.Admonition):
            self.admonition(node, depth)
        elif isinstance(node, nodes.rubric) or type(node).__name__.endswith("title"):
            cells.markdown(f"**{self.inline(node)}**")
        elif isinstance(node, nodes.definition_list):
            for item in node.findall(nodes.definition_list_item):
                term = item.next_node(nodes.term)
                cells.markdown(f"**{self.inline(term)}**" if term else "")
                for definition in item.findall(nodes.definition):
                    self.blocks(definition, depth)
        elif isinstance(node, nodes.block_quote):
            text = self.plain_blocks(node)
            cells.markdown("\n".join("> " + line for line in text.splitlines()))
        elif isinstance(node, nodes.transition):
            cells.markdown("---")
        elif isinstance(node, nodes.line_block):
            cells.markdown("  \n".join(self.inline(line) for line in node.children))
        elif node.__class__.__name__ == "only":
            # Builder-specific content (sphinx-gallery's thumbnails) is not page content.
            return
        elif isinstance(node, nodes.field_list):
            for field in node.children:
                name = self.inline(field.children[0])
                cells.markdown(f"**{name}**: {self.plain_blocks(field.children[1])}")
        elif node.__class__.__name__ == "desc_signature":
            cells.markdown(inline_code(node.astext().strip()))
        elif isinstance(node, nodes.TextElement):
            cells.markdown(self.inline(node))
        elif isinstance(node, nodes.Element):
            self.blocks(node, depth)

    def plain_blocks(self, node) -> str:
        """Prose of a container that holds no code, as Markdown."""
        saved, self.cells = self.cells, Cells()
        self.cells.attachments = saved.attachments
        self.blocks(node, depth=6)
        inner = self.cells.finish()
        self.cells = saved
        return "\n\n".join(c["source"] for c in inner if c["cell_type"] == "markdown")

    def admonition(self, node, depth: int) -> None:
        title_node = node.next_node(nodes.title)
        if title_node is not None and title_node.parent is node:
            title = self.inline(title_node)
        else:
            title = type(node).__name__.capitalize()
        has_code = any(
            isinstance(n, (nodes.literal_block, nodes.doctest_block))
            or n.get("nb_element") == "cell_code"
            for n in node.findall(nodes.Element)
        )
        body = [c for c in node.children if c is not title_node]
        if not has_code:
            holder = nodes.container()
            holder.children = body  # a view on the children; nothing is re-parented
            text = self.plain_blocks(holder)
            quoted = "\n".join(
                "> " + line if line else ">" for line in text.splitlines()
            )
            self.cells.markdown(f"> **{title}**\n>\n{quoted}")
            return
        self.cells.markdown(f"**{title}**")
        for child in body:
            self.block(child, depth)

    def list_text(self, node) -> str:
        lines = []
        for number, item in enumerate(node.children, start=node.get("start", 1)):
            marker = f"{number}. " if isinstance(node, nodes.enumerated_list) else "- "
            text = self.plain_blocks(item)
            pad = " " * len(marker)
            body = textwrap.indent(text, pad).lstrip()
            lines.append(marker + body)
        return "\n".join(lines)

    def table(self, node) -> str:
        rows = []
        for row in node.findall(nodes.row):
            cells = [
                " ".join(self.plain_blocks(entry).split()).replace("|", "\\|")
                for entry in row.children
            ]
            rows.append("| " + " | ".join(cells) + " |")
        if not rows:
            return ""
        width = rows[0].count(" | ") + 1
        rows.insert(1, "|" + " --- |" * width)
        return "\n".join(rows)

    # -- code -----------------------------------------------------------------------------
    def literal(self, node) -> None:
        kind = node.get("testnodetype")
        text = node.get("test", node.astext())
        if kind == "doctest" or isinstance(node, nodes.doctest_block):
            doctest_cells(self.cells, text, self.default_flags, self.trim)
        elif kind in ("testcode", "testsetup"):
            self.cells.code(text, kind="code")
        elif kind == "testoutput":
            previous = self.cells.cells[-1] if self.cells.cells else None
            if previous is not None and previous["cell_type"] == "code":
                previous["outputs"].append(
                    {"output_type": "stream", "name": "stdout", "text": text + "\n"}
                )
                flags = self.default_flags
                for flag, on in node.get("options", {}).items():
                    flags = flags | flag if on else flags & ~flag
                previous["metadata"]["checked"] = {"optionflags": flag_names(flags)}
                previous["kind"] = "checked"
        elif kind == "testcleanup" or isinstance(node, nodes.comment):
            return
        elif node.get("source") and node.get("language", "python") in ("python", "py"):
            self.listing(node)
        else:
            self.cells.markdown(fence(node.astext(), node.get("language", "")))

    def listing(self, node) -> None:
        code = node.astext()
        path = Path(node["source"])
        imports = listing_imports(code, path)
        try:
            shown = path.resolve().relative_to(Path(self.app.confdir).resolve())
        except ValueError:
            shown = Path(path.name)
        if imports is None:
            self.cells.markdown(
                f"From `{shown.as_posix()}`:\n\n" + fence(code, "python")
            )
            return
        head = f"# The listing from {shown.as_posix()}, with the imports it needs"
        future = [line for line in imports if line.startswith("from __future__")]
        rest = [line for line in imports if not line.startswith("from __future__")]
        source = "\n".join(future + [head] + rest) + "\n\n\n" + code.rstrip("\n")
        # Objects made from a copy of a class are not instances of the package's class: the
        # examples keep using the package's own objects, which this listing shows.
        names = [
            name
            for stmt in ast.parse(code).body
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            for name in _bound_names(stmt)
        ]
        module = module_name(path)
        if names and module:
            source += (
                "\n\n\n# The examples below use the package's own "
                + ", ".join(names)
                + " (the code above);\n# delete this line to try your edited copy instead.\n"
                + f"from {module} import {', '.join(names)}"
            )
        self.cells.code(source, kind="listing")

    def myst_nb_cell(self, node) -> None:
        index = node.get("cell_index")
        cell = None
        if self.executed is not None and index is not None:
            try:
                cell = self.executed["cells"][int(index)]
            except (IndexError, ValueError, TypeError):
                cell = None
        if cell is not None and cell.get("cell_type") == "code":
            source = cell["source"]
            source = "".join(source) if isinstance(source, list) else source
            outputs = [_clean_output(o) for o in cell.get("outputs", [])]
            metadata = {
                k: v for k, v in cell.get("metadata", {}).items() if k in ("tags",)
            }
            self.cells.code(source, outputs, metadata, kind="code")
            return
        for literal in node.findall(nodes.literal_block):
            if literal.parent.get("nb_element") == "cell_code_source":
                self.cells.code(literal.astext(), kind="code")
                return

    # -- inline ---------------------------------------------------------------------------
    def inline(self, node) -> str:
        parts = []
        for child in node.children:
            parts.append(self.inline_node(child))
        return "".join(parts).strip()

    def inline_node(self, node) -> str:  # noqa: C901 - one branch per node kind
        if isinstance(node, nodes.Text):
            return escape_markdown(str(node))
        if isinstance(node, _SKIP):
            return ""
        if isinstance(node, nodes.math):
            return f"${node.astext()}$"
        if isinstance(node, nodes.literal):
            return inline_code(node.astext())
        if isinstance(node, nodes.emphasis):
            return f"*{self.inline(node)}*"
        if isinstance(node, nodes.strong):
            return f"**{self.inline(node)}**"
        if isinstance(node, nodes.image):
            return self.image(node)
        if isinstance(node, nodes.reference):
            text = self.inline(node)
            uri = node.get("refuri", "")
            if re.match(r"https?://", uri):
                return f"[{text}]({uri})"
            return text  # links inside the book do not work from a downloaded file
        if isinstance(node, nodes.footnote_reference):
            return f"[{node.astext()}]"
        if isinstance(node, nodes.subscript):
            return f"<sub>{self.inline(node)}</sub>"
        if isinstance(node, nodes.superscript):
            return f"<sup>{self.inline(node)}</sup>"
        if isinstance(node, nodes.Element):
            return self.inline(node) if node.children else ""
        return ""

    def image(self, node) -> str:
        if "only-dark" in node.get("classes", []):
            return ""
        alt = node.get("alt", "") or "figure"
        path = self._image_file(node)
        if path is None:
            return f"*[Figure: {escape_markdown(alt)}, see the page]*"
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        name = path.name
        data = path.read_bytes()
        if mime == "image/png":
            data = palette_bytes(data)  # as the site stores it (light_site.py)
        if mime == "image/svg+xml":
            encoded = data.decode("utf-8")
        else:
            encoded = base64.b64encode(data).decode("ascii")
        self.cells.attachments[name] = {mime: encoded}
        return f"![{alt}](attachment:{name})"

    def _image_file(self, node) -> Path | None:
        uri = node.get("candidates", {}).get("*") or node.get("uri", "")
        if not uri or re.match(r"[a-z]+:", uri):
            return None
        srcdir = Path(self.app.srcdir)
        for candidate in (
            srcdir / uri.lstrip("/"),
            Path(self.app.confdir) / uri.lstrip("/"),
            Path(self.app.outdir) / "_images" / Path(uri).name,
        ):
            if candidate.is_file():
                return candidate
        return None


def _joined(value):
    return "".join(value) if isinstance(value, list) else value


def _clean_output(output: dict) -> dict:
    """An output as this notebook stores it: no execution count, texts as single strings."""
    output = dict(output)
    if "text" in output:
        output["text"] = _joined(output["text"])
    if "data" in output:
        output["data"] = {mime: _joined(v) for mime, v in output["data"].items()}
        # A figure comes as a PNG and as the page's light/dark pair of images (HTML, both
        # inline, docs/_ext/notebook_figures.py): a notebook shows the PNG, so the pair goes.
        if "image/png" in output["data"] and "only-dark" in output["data"].get(
            "text/html", ""
        ):
            del output["data"]["text/html"]
        if "image/png" in output["data"]:
            png = base64.b64decode(output["data"]["image/png"])
            output["data"]["image/png"] = base64.b64encode(palette_bytes(png)).decode()
    if "traceback" in output:
        output["traceback"] = list(output["traceback"])
    if "execution_count" in output:
        output["execution_count"] = None
    output.pop("transient", None)
    return output


# --- writing ------------------------------------------------------------------------------
def _setup_cell(app) -> str:
    setup = textwrap.dedent(getattr(app.config, "doctest_global_setup", "") or "")
    return setup.strip()


def to_notebook(cells: list[dict], setup: str, title: str) -> dict:
    """The nbformat 4.5 notebook of a page's cells (ids are stable: c0, c1, ...)."""
    out = []
    intro = (
        f"> This notebook is the page \u201c{escape_markdown(title)}\u201d of the book "
        "*Attention, Executed*, generated when the book was built. Its outputs are the ones "
        "the book checked. It needs `torch` and the book's `chapter3` package: see the "
        "book's page \u201cRun it yourself\u201d."
    )
    body = [dict(c) for c in cells]
    insert = [{"cell_type": "markdown", "source": intro}]
    if setup:
        insert.append(
            {
                "cell_type": "code",
                "source": "# The setup every doctest of the book runs with\n" + setup,
                "outputs": [],
                "metadata": {"tags": ["setup"]},
                "execution_count": None,
            }
        )
    # The intro goes after the title cell (the first Markdown cell), the setup before code.
    title_end = 1 if body and body[0]["cell_type"] == "markdown" else 0
    body = body[:title_end] + insert + body[title_end:]
    for number, cell in enumerate(body):
        cell = {k: v for k, v in cell.items() if k != "kind"}
        cell["id"] = f"c{number}"
        cell.setdefault("metadata", {})
        out.append(cell)
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _comment(text: str) -> str:
    return "\n".join(("# " + line).rstrip() for line in text.splitlines())


def _output_text(output: dict) -> str:
    if output["output_type"] == "stream":
        return _joined(output.get("text", ""))
    if output["output_type"] == "error":
        return f"{output['ename']}: {output['evalue']}"
    data = output.get("data", {})
    if "text/plain" in data:
        text = _joined(data["text/plain"])
        if text.startswith("<Figure size"):
            return "[a figure]"
        return text
    return ""


def to_script(cells: list[dict], setup: str, title: str) -> str:
    """The page as a Python script in jupytext's percent format."""
    head = [
        f"# {title}",
        "#",
        "# This script is a page of the book *Attention, Executed*, generated when the book",
        "# was built: prose as comments, code in page order, and under each code cell the",
        "# output the book checked, as comments. Run it with `python`, or cell by cell (# %%)",
        "# in an editor. It needs torch and the book's chapter3 package: see the book's page",
        '# "Run it yourself".',
    ]
    parts = ["\n".join(head)]
    future = [
        line
        for cell in cells
        if cell["cell_type"] == "code"
        for line in cell["source"].splitlines()
        if line.startswith("from __future__ import")
    ]
    if future:  # must open the file; a listing's cell cannot hold it mid-script
        parts.append("\n".join(dict.fromkeys(future)))
    if setup:
        parts.append("# %%\n# The setup every doctest of the book runs with\n" + setup)
    image = re.compile(r"!\[([^\]]*)\]\(attachment:[^)]*\)")
    for cell in cells:
        if cell["cell_type"] == "markdown":
            text = image.sub(r"[Figure: \1, see the page]", cell["source"])
            parts.append("# %% [markdown]\n" + _comment(text))
            continue
        source = "\n".join(
            line
            for line in cell["source"].splitlines()
            if not line.startswith("from __future__ import")
        )
        if cell.get("kind") == "error":
            outputs = cell["outputs"]
            message = _output_text(outputs[0]) if outputs else ""
            source = (
                "try:\n"
                + textwrap.indent(source, "    ")
                + "\nexcept Exception as error:  # the page shows this error\n"
                + '    print(f"{type(error).__name__}: {error}")'
                + (f"\n# {message}" if message else "")
            )
        else:
            shown = "".join(_output_text(o) for o in cell["outputs"]).rstrip("\n")
            if shown:
                source += "\n" + _comment(shown)
        parts.append("# %%\n" + source)
    return "\n\n".join(parts).rstrip() + "\n"


def _title(doctree) -> str:
    title = doctree.next_node(nodes.title)
    return title.astext() if title is not None else ""


def _skipped(app, docname: str) -> bool:
    return any(fnmatch.fnmatch(docname, p) for p in app.config.takeaway_exclude)


def _links_node(app, docname: str) -> nodes.raw:
    builder = app.builder
    page = builder.get_target_uri(docname)
    notebook = relative_uri(page, f"{OUT_DIR}/{docname}.ipynb")
    script = relative_uri(page, f"{OUT_DIR}/{docname}.py")
    how = ""
    if app.config.takeaway_howto in app.env.all_docs:
        howto = builder.get_relative_uri(docname, app.config.takeaway_howto)
        how = f' <a class="takeaway-howto" href="{howto}">(how to run them)</a>'
    html = (
        '<p class="takeaway">'
        f'<a class="takeaway-notebook" href="{notebook}" download>{NOTEBOOK_LINK}</a>'
        f' <a class="takeaway-script" href="{script}" download>{SCRIPT_LINK}</a>'
        f"{how}</p>\n"
    )
    return nodes.raw("", html, format="html")


def write_page(app, doctree, docname: str) -> None:
    """``doctree-resolved``: write the page's notebook and script, then link them."""
    if app.builder.format != "html" or _skipped(app, docname):
        return
    cells = PageConverter(app, docname).convert(doctree)
    if not any(c["cell_type"] == "code" for c in cells):
        return
    title = _title(doctree)
    setup = _setup_cell(app)
    out = Path(app.outdir) / OUT_DIR / docname
    out.parent.mkdir(parents=True, exist_ok=True)
    notebook = to_notebook(cells, setup, title)
    out.with_suffix(".ipynb").write_text(
        json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    out.with_suffix(".py").write_text(to_script(cells, setup, title), encoding="utf-8")
    # The links go right under the page title.
    section = doctree.next_node(nodes.section)
    parent = section if section is not None else doctree
    title_node = parent.next_node(nodes.title)
    position = parent.index(title_node) + 1 if title_node in parent.children else 0
    parent.insert(position, _links_node(app, docname))


def _depend_on_this_file(app, docname: str, source: list[str]) -> None:
    # A change to this extension re-reads (and so re-writes) every page; myst-nb's cache
    # keeps that from re-executing anything.
    app.env.note_dependency(__file__)


def setup(app):
    app.connect("source-read", _depend_on_this_file)
    app.add_config_value(
        "takeaway_exclude",
        ["auto_gallery/*", "sg_execution_times", "genindex", "search"],
        "html",
    )
    app.add_config_value("takeaway_howto", "run_it_yourself", "html")
    app.connect("doctree-resolved", write_page)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": False}
