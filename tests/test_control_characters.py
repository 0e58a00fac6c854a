"""No control characters in what the book is made from, nor in what it hands to a reader.

A control character in a page is invisible in an editor and breaks what a reader sees: a
``\\a`` in a non-raw Python string turned ``\\approx`` into BEL + "pprox", and MathJax showed
"Math input error". The sources checked: every page (``docs/**/*.md``), the code that draws or
writes pages (``docs/**/*.py``), the gallery scripts, the package (autodoc shows its
docstrings) and the tests; then, when a book was built, the notebooks and scripts a reader
downloads (``_build/html/run-it/``). Newline, tab and carriage return are allowed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    ("docs", "**/*.md"),
    ("docs", "**/*.py"),
    ("gallery", "**/*.py"),
    ("chapter3", "**/*.py"),
    ("tests", "**/*.py"),
]
SKIP_PARTS = {"auto_gallery", "_generated", "__pycache__"}
RUN_IT = ROOT / "_build" / "html" / "run-it"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_characters(text: str) -> list[str]:
    """Each control character of ``text`` as ``line N: U+XXXX after '...'``.

    >>> control_characters("x \\\\approx y")
    []
    >>> control_characters("x \\approx y")
    ["line 1: U+0007 after 'x '"]
    >>> control_characters("a\\tb\\r\\nc\\n")
    []
    """
    found = []
    for match in _CONTROL.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[max(0, match.start() - 20) : match.start()].split("\n")[-1]
        found.append(f"line {line}: U+{ord(match.group()):04X} after {before!r}")
    return found


def source_files() -> list[Path]:
    files = []
    for folder, pattern in SOURCES:
        for path in sorted((ROOT / folder).glob(pattern)):
            if not SKIP_PARTS.intersection(path.relative_to(ROOT).parts):
                files.append(path)
    return files


def test_the_sources_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in source_files()}
    assert "docs/index.md" in names and "docs/_ext/takeaway.py" in names
    assert any(n.startswith("gallery/") for n in names)


@pytest.mark.parametrize(
    "path", source_files(), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_no_control_character_in_a_source(path):
    found = control_characters(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}: " + "; ".join(found)


def _notebook_text(path: Path) -> str:
    # a notebook is JSON: a control character hides as an escape (\u0007) until parsed
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        parts.append("".join(source) if isinstance(source, list) else source)
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


def downloads() -> list[Path]:
    if not RUN_IT.is_dir():
        return []
    return sorted(RUN_IT.glob("*.ipynb")) + sorted(RUN_IT.glob("*.py"))


def test_no_control_character_in_the_downloads_of_a_built_book():
    """The notebooks and scripts of ``_build/html/run-it`` (none before a build)."""
    problems = []
    for path in downloads():
        if path.suffix == ".ipynb":
            text = _notebook_text(path)
        else:
            text = path.read_text(encoding="utf-8")
        problems += [f"{path.name}: {f}" for f in control_characters(text)]
    assert not problems, "\n".join(problems)
