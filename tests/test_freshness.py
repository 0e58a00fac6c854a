"""The build never serves stale output: a change in the watched package re-executes pages and
gallery scripts, and an unchanged rebuild re-executes nothing.

A miniature book is built twice with the real ``docs/_ext/freshness.py`` extension: one MyST
notebook page and one gallery script, both printing a constant from a tiny package. Between the
builds only the package changes. A control build without the extension shows that the stale
output this guards against is real (myst-nb's cache and sphinx-gallery's md5 both key on the
page or script, not on what it imports).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # real Sphinx builds: minutes, not seconds

PAGE = """\
---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
  language: python
---
# Page

```{code-cell} python
import tinypkg
print("page says", tinypkg.VALUE)
```
"""

SCRIPT = '''\
"""
Script
======
"""
import tinypkg

print("script says", tinypkg.VALUE)
'''

CONF = """\
import sys
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, {ext!r})
from freshness import watched_hash
extensions = {extensions!r}
freshness_watch = ["tinypkg"]
nb_execution_mode = "cache"
nb_execution_cache_path = str(HERE / "_cache" / {cache_key})
nb_execution_raise_on_error = True
exclude_patterns = ["_build", "auto_gallery/*.ipynb"]
sphinx_gallery_conf = {{
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_gallery",
    "filename_pattern": "/plot_",
}}
"""


def _make_book(tmp: Path, with_freshness: bool) -> Path:
    book = tmp / ("fresh" if with_freshness else "control")
    (book / "tinypkg").mkdir(parents=True)
    (book / "gallery").mkdir()
    (book / "tinypkg" / "__init__.py").write_text("VALUE = 'one'\n")
    (book / "page.md").write_text(PAGE)
    (book / "gallery" / "README.txt").write_text("Gallery\n=======\n")
    (book / "gallery" / "plot_value.py").write_text(SCRIPT)
    extensions = ["myst_nb", "sphinx_gallery.gen_gallery"]
    cache_key = '"fixed"'
    if with_freshness:
        extensions.insert(0, "freshness")
        cache_key = 'watched_hash([HERE / "tinypkg"])'
    (book / "conf.py").write_text(
        CONF.format(
            ext=str(ROOT / "docs" / "_ext"), extensions=extensions, cache_key=cache_key
        )
    )
    (book / "index.rst").write_text(
        "Book\n====\n\n.. toctree::\n\n   page\n   auto_gallery/index\n"
    )
    return book


def _build(book: Path) -> tuple[str, str, str]:
    env = dict(os.environ, PYTHONPATH=str(book), MPLBACKEND="Agg")
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", str(book), str(book / "_build")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    page = (book / "_build" / "page.html").read_text()
    script = (book / "_build" / "auto_gallery" / "plot_value.html").read_text()
    return page, script, run.stdout + run.stderr


def _change_package(book: Path) -> None:
    (book / "tinypkg" / "__init__.py").write_text("VALUE = 'two'\n")


@pytest.mark.parametrize("with_freshness", [True, False], ids=["freshness", "control"])
def test_package_change_reexecutes_pages_and_scripts(tmp_path, with_freshness):
    book = _make_book(tmp_path, with_freshness)
    page, script, _ = _build(book)
    assert "page says one" in page and "script says one" in script

    _change_package(book)
    page, script, _ = _build(book)
    if with_freshness:
        assert "page says two" in page, "the page kept output of the old package"
        assert "script says two" in script, (
            "the gallery script kept output of the old package"
        )
    else:
        # Without the extension, both caches serve stale output under a green build: this is
        # the failure the extension exists to prevent.
        assert "page says one" in page and "script says one" in script


def test_unchanged_rebuild_executes_nothing(tmp_path):
    book = _make_book(tmp_path, with_freshness=True)
    _, _, log = _build(book)
    assert "Executing notebook" in log  # the log does report executions
    stamp = book / "auto_gallery" / "plot_value.py.md5"
    assert stamp.exists()
    before = stamp.stat().st_mtime_ns
    _, _, log = _build(book)
    assert stamp.stat().st_mtime_ns == before
    assert "Executing notebook" not in log
