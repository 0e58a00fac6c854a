"""The page-to-notebook converter (docs/_ext/takeaway.py) and its helpers, without a build."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import doctest  # noqa: E402

from alt_text import figure_titles  # noqa: E402
from takeaway import (  # noqa: E402
    Cells,
    doctest_cells,
    listing_imports,
    module_name,
    to_notebook,
    to_script,
)
from wheel import wheel_name  # noqa: E402

DOCTEST = """\
>>> import torch
>>> x = torch.arange(3)
>>> x.sum()
tensor(3)
>>> for i in range(2):
...     print(i)
0
1
>>> int("seven")
Traceback (most recent call last):
ValueError: invalid literal for int() with base 10: 'seven'
>>> y = x * 2
"""


def _cells(text=DOCTEST):
    cells = Cells()
    doctest_cells(cells, text, doctest.ELLIPSIS, trim=True)
    return cells.finish()


def test_each_cell_ends_at_a_checked_output():
    cells = _cells()
    sources = [c["source"] for c in cells]
    assert sources == [
        "import torch\nx = torch.arange(3)\nx.sum()",
        "for i in range(2):\n    print(i)",
        'int("seven")',
        "y = x * 2",
    ]
    value, printed, error, plain = cells
    assert value["outputs"][0]["output_type"] == "execute_result"
    assert value["outputs"][0]["data"]["text/plain"] == "tensor(3)"
    assert printed["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "0\n1\n"}
    ]
    assert value["metadata"]["checked"] == {"optionflags": ["ELLIPSIS"]}
    assert error["metadata"]["tags"] == ["raises-exception"]
    assert error["outputs"][0]["ename"] == "ValueError"
    assert plain["outputs"] == [] and "checked" not in plain["metadata"]


def test_doctest_flags_are_kept_and_trimmed():
    (cell,) = _cells(
        ">>> list(range(30))  # doctest: +NORMALIZE_WHITESPACE\n[0, 1, ...]\n"
    )
    assert cell["source"] == "list(range(30))"
    assert cell["metadata"]["checked"]["optionflags"] == [
        "ELLIPSIS",
        "NORMALIZE_WHITESPACE",
    ]


def test_notebook_and_script():
    cells = Cells()
    cells.markdown("# Title")
    cells.flush()
    cells.markdown("Some *prose* with $x^2$.")
    doctest_cells(cells, DOCTEST, 0, trim=True)
    body = cells.finish()
    notebook = to_notebook(body, "import torch", "Title")
    import nbformat

    nbformat.validate(nbformat.from_dict(notebook))
    kinds = [c["cell_type"] for c in notebook["cells"]]
    # title, intro, setup
    assert kinds[:4] == [
        "markdown",
        "markdown",
        "code",
        "markdown",
    ]
    assert all("kind" not in c for c in notebook["cells"])
    script = to_script(body, "import torch", "Title")
    ast.parse(script)  # valid Python
    assert "# tensor(3)" in script
    assert "except Exception as error:" in script  # the page's error does not stop it


def test_listing_imports_what_it_uses():
    path = ROOT / "chapter3" / "simple_attention.py"
    code = (
        "def f(inputs, query):\n"
        "    _check_pair(inputs, query)\n"
        "    return torch.dot(inputs[0], query)\n"
    )
    imports = listing_imports(code, path)
    assert "import torch" in imports
    assert "from chapter3.simple_attention import _check_pair" in imports
    assert listing_imports("    def method(self):\n        pass\n", path) is None
    assert module_name(path) == "chapter3.simple_attention"
    assert module_name(ROOT / "chapter3" / "__init__.py") == "chapter3"


def test_figure_titles_in_source_order():
    code = 'fig.suptitle("all")\nax.set(title="left", xlabel="x")\nax2.set_title("right")\n'
    assert figure_titles(code) == ["all", "left", "right"]
    assert figure_titles("not python (") == []


def test_wheel_name_follows_pyproject():
    assert wheel_name(ROOT).startswith("chapter3-") and wheel_name(ROOT).endswith(
        "-py3-none-any.whl"
    )


def test_code_nested_in_containers_stays_in_page_order(tmp_path):
    """Doctests inside a note or a dropdown-like container, figures, a light/dark image pair
    and an included listing: what the other branches of the book bring."""
    from types import SimpleNamespace

    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document
    from takeaway import PageConverter

    class dropdown_title(nodes.TextElement):  # noqa: N801 - like sphinx-design's node
        pass

    image = tmp_path / "concept.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 16)
    doc = new_document("page", get_default_settings(Parser))
    section = nodes.section()
    section += nodes.title(text="A page")
    section += nodes.paragraph(text="Intro.")
    figure = nodes.figure()
    figure += nodes.image(uri="concept.png", alt="a concept")
    figure += nodes.image(uri="concept.png", alt="dark twin", classes=["only-dark"])
    figure += nodes.caption(text="The concept.")
    section += figure
    source = ROOT / "chapter3" / "simple_attention.py"
    listing = "def attn_demo(inputs, query):\n    return torch.dot(inputs[0], query)\n"
    section += nodes.literal_block(
        listing, listing, source=str(source), language="python"
    )
    note = nodes.note()
    note += nodes.paragraph(text="In a note:")
    note += nodes.literal_block(
        ">>> 1 + 1\n2\n", ">>> 1 + 1\n2\n", testnodetype="doctest", groups=["default"]
    )
    section += note
    dropdown = nodes.container(classes=["dropdown"])
    dropdown += dropdown_title(text="Exercise 1")
    inner = nodes.container()
    inner += nodes.literal_block(
        ">>> print('hi')\nhi\n", ">>> print('hi')\nhi\n", testnodetype="doctest"
    )
    dropdown += inner
    section += dropdown
    doc += section

    app = SimpleNamespace(
        config=SimpleNamespace(doctest_default_flags=0, trim_doctest_flags=True),
        outdir=str(tmp_path / "html"),
        srcdir=str(tmp_path),
        confdir=str(ROOT),
    )
    cells = PageConverter(app, "page").convert(doc)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert [c["kind"] for c in code] == ["listing", "checked", "checked"]
    assert "import torch" in code[0]["source"] and "def attn_demo" in code[0]["source"]
    assert code[0]["source"].endswith("from chapter3.simple_attention import attn_demo")
    assert code[1]["source"] == "1 + 1" and code[2]["source"] == "print('hi')"
    markdown = "\n".join(c["source"] for c in cells if c["cell_type"] == "markdown")
    assert "![a concept](attachment:concept.png)" in markdown
    assert "dark twin" not in markdown
    assert "**Exercise 1**" in markdown and "**Note**" in markdown
    attached = [c for c in cells if c.get("attachments")]
    assert list(attached[0]["attachments"]["concept.png"]) == ["image/png"]


def test_outputs_stored_as_lists_of_lines():
    """nbformat may store a text as a list of lines (myst-nb's executed notebooks do)."""
    from takeaway import _clean_output

    output = {"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]}
    cell = {"cell_type": "code", "source": "f()", "outputs": [_clean_output(output)]}
    assert cell["outputs"][0]["text"] == "a\nb\n"
    assert "# a\n# b" in to_script([cell], "", "T")
    raw = {"cell_type": "code", "source": "f()", "outputs": [output]}
    assert "# a\n# b" in to_script([raw], "", "T")
