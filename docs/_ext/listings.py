"""Show package code as teaching listings: ``literalinclude`` with ``:pyobject:`` drops docstrings.

The book includes classes and functions from ``chapter3`` with
``literalinclude ... :pyobject: Name``. Their docstrings are reST written for autodoc (the API
page renders them as prose); inside a listing they would show raw markup and double its length.
This extension overrides ``literalinclude`` so that, whenever ``:pyobject:`` is given, every
docstring of the included object (the object's own and those of its methods) is left out.

:func:`strip_docstrings` is also what ``tests/test_listings.py`` uses to hold every listing the
book shows to the teaching limits (lines and columns), so the test measures what readers see.
"""

from __future__ import annotations

import ast
import textwrap

from docutils import nodes
from sphinx.directives.code import LiteralInclude


def strip_docstrings(code: str) -> str:
    """``code`` (one class or function, possibly indented) without any docstring in it."""
    tree = ast.parse(textwrap.dedent(code))
    drop: set[int] = set()  # 1-based line numbers
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                drop.update(range(first.lineno, first.end_lineno + 1))
                # a blank line right after a docstring goes too
                after = first.end_lineno + 1
                lines = code.splitlines()
                if after <= len(lines) and not lines[after - 1].strip():
                    drop.add(after)
    kept = [line for i, line in enumerate(code.splitlines(), 1) if i not in drop]
    return "\n".join(kept) + ("\n" if code.endswith("\n") else "")


class TeachingLiteralInclude(LiteralInclude):
    """``literalinclude`` that leaves docstrings out of ``:pyobject:`` listings."""

    def run(self):
        result = super().run()
        if "pyobject" not in self.options:
            return result
        for node in result:
            for block in node.findall(nodes.literal_block):
                text = strip_docstrings(block.astext())
                block.rawsource = text
                block.children = [nodes.Text(text)]
        return result


def setup(app):
    app.add_directive("literalinclude", TeachingLiteralInclude, override=True)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
