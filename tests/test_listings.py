"""Every listing the book shows is teaching-sized: lines and columns, as the reader sees them.

The listings are read from the pages themselves (every ``literalinclude`` with ``:pyobject:``)
and measured after the same docstring stripping that the build applies
(``docs/_ext/listings.py``), so a new listing is held to the limits without being named here.
"""

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

from listings import strip_docstrings  # noqa: E402

INCLUDE = re.compile(
    r"```\{literalinclude\}\s+(?P<path>\S+)\n(?P<options>(?::[\w-]+:.*\n)*)", re.M
)

# Lines of the chapter's own listings (Raschka's chapter 3 code), and the book's limit of
# about 1.3 times that for the attention classes of 3.4-3.6.
CHAPTER_LINES = {
    "SelfAttention_v1": 17,
    "SelfAttention_v2": 17,
    "CausalAttention": 25,
    "MultiHeadAttentionWrapper": 13,
    "MultiHeadAttention": 55,
}
DECODER_PIECES = {
    "GPTConfig",
    "AddNorm",
    "PositionwiseFeedForward",
    "GPTDecoderBlock",
    "LayerNormWithStd",
}
MAX_COLUMNS = 88


def shown_listings():
    found = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for match in INCLUDE.finditer(page.read_text(encoding="utf-8")):
            options = dict(
                re.findall(r"^:([\w-]+):\s*(.*)$", match["options"], flags=re.M)
            )
            if "pyobject" in options:
                source = (page.parent / match["path"]).resolve()
                found.append((page.name, source, options["pyobject"]))
    return found


def object_source(path: Path, dotted: str) -> str:
    text = path.read_text(encoding="utf-8")
    body = ast.parse(text).body
    node = None
    for name in dotted.split("."):
        node = next(
            n
            for n in body
            if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == name
        )
        body = node.body
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return "\n".join(text.splitlines()[start - 1 : node.end_lineno]) + "\n"


def limit_for(name: str) -> int:
    if name in CHAPTER_LINES:
        return round(1.3 * CHAPTER_LINES[name])
    if name in DECODER_PIECES:
        return 35
    if name == "GPTDecoder":
        return 45
    return 50  # any other function or class the book shows


LISTINGS = shown_listings()


def test_the_pages_show_listings():
    names = {name for _, _, name in LISTINGS}
    assert {"CausalAttention", "MultiHeadAttention", "GPTDecoder"} <= names


@pytest.mark.parametrize(
    ("page", "source", "name"), LISTINGS, ids=[f"{p}:{n}" for p, _, n in LISTINGS]
)
def test_listing_is_teaching_sized(page, source, name):
    shown = strip_docstrings(object_source(source, name)).splitlines()
    widest = max(shown, key=len)
    assert len(widest) <= MAX_COLUMNS, f"{name} on {page}: {len(widest)} columns"
    assert len(shown) <= limit_for(name), (
        f"{name} on {page} shows {len(shown)} lines; the limit is {limit_for(name)}"
    )
    assert '"""' not in "\n".join(
        shown
    )  # docstrings render as prose, never in a listing


def test_strip_docstrings_removes_method_docstrings_and_keeps_code():
    code = 'class A:\n    """Doc."""\n\n    def f(self):\n        """More."""\n        return 1\n'
    assert strip_docstrings(code) == "class A:\n    def f(self):\n        return 1\n"
