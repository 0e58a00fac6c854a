"""Sphinx configuration of *Attention, Executed* (sources in ``docs/``).

Build with ``make html``; see the Makefile. Every page is a MyST text notebook executed at build
time by myst-nb, every gallery script runs under sphinx-gallery, and ``make doctest`` checks every
number the text prints.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
# autodoc and the doctest builder import chapter3 from the checkout
sys.path.insert(0, str(ROOT))

from freshness import watched_hash  # noqa: E402

project = "Attention, Executed"
author = "The Attention, Executed authors"
copyright = "2026, " + author

extensions = [
    "freshness",
    "offline",
    "listings",
    "live_adder",
    "adder_trace",
    "myst_nb",
    "sphinx_gallery.gen_gallery",
    "gallery_guard",
    "concept_figures",
    "notebook_figures",
    "sphinx.ext.doctest",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx_design",
    # Run it yourself (issue 10): copy buttons, every page as a notebook and a script, and
    # the package as a wheel served by the book.
    "sphinx_copybutton",
    "takeaway",
    "wheel",
    "alt_text",
    # A lighter site (issue 19): only the MathJax files pages load, lazy light/dark figures.
    "light_site",
    # Search ranks the page that introduces a chapter word first; snippets in plain text.
    "search_terms",
]

# The watched sources: a change in any of them re-executes every page and gallery script.
freshness_watch = ["chapter3", "docs/_ext/notebook_figures.py"]
WATCHED_HASH = watched_hash([ROOT / p for p in freshness_watch])

exclude_patterns = [
    "_build",
    "_ext",
    "_figures",
    "_generated",
    "**/.ipynb_checkpoints",
    # sphinx-gallery writes a notebook beside each generated page; myst-nb would read it as a
    # second copy of the same document (see shared notes, pitfall 1).
    "auto_gallery/*.ipynb",
]

# Developers may build a few pages only: BOOK_ONLY="masks,ch3_6_multi_head" (docnames).
# Such a partial build warns about toctree entries it left out; never use it with -W.
_only = [
    name.strip() for name in os.environ.get("BOOK_ONLY", "").split(",") if name.strip()
]
if _only:
    include_patterns = ["index.md"] + [f"{name}.md" for name in _only]
    if not any(name.startswith("auto_gallery") for name in _only):
        os.environ.setdefault("BOOK_NO_GALLERY", "1")

# --- myst-nb: execute every page, fail on any error, never serve stale output -----------------
nb_execution_mode = "cache"
nb_execution_cache_path = str(ROOT / "_build" / ".jupyter_cache" / WATCHED_HASH)
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 600  # a cell that trains the adder on a busy machine
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# --- sphinx-gallery --------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../gallery",
    "gallery_dirs": "auto_gallery",
    "filename_pattern": r"/plot_",
    "plot_gallery": "False" if os.environ.get("BOOK_NO_GALLERY") else "True",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    # One subsection per part of the book (gallery/<name>/README.txt is its header), in the
    # book's order; scripts within a subsection in file-name order.
    "subsection_order": [
        "../gallery/attention",
        "../gallery/masks",
        "../gallery/multihead",
        "../gallery/adder",
    ],
    "within_subsection_order": "FileNameSortKey",
    # Every figure is saved twice, for furo's light and dark mode (docs/_ext/light_dark.py).
    "image_scrapers": ("light_dark.scraper",),
    # Backreferences: which gallery scripts use which chapter3 object. Chapter pages show
    # them with an eval-rst block: ``.. minigallery:: chapter3.masks.masked_softmax``
    # (or several names). inspect_global_variables also catches objects reached through an instance.
    "doc_module": ("chapter3",),
    "backreferences_dir": "auto_gallery/backreferences",
    "inspect_global_variables": True,
    # The execution-times page is part of the book: write it even when SOURCE_DATE_EPOCH is
    # set (sphinx-gallery's default then skips it, and the toctree entry would dangle).
    "write_computation_times": True,
    "min_reported_time": 0,
    # A failing script fails the build (the default, stated here on purpose); gallery_guard
    # (docs/_ext/gallery_guard.py) also fails it when a script silently did not run.
    "only_warn_on_example_error": False,
    "abort_on_example_error": False,
}

# The gallery has subsections (gallery/<section>/): their notebooks must be excluded too
# ("*" stops at "/", "**" does not).
exclude_patterns.append("auto_gallery/**.ipynb")

# A partial build that names a gallery page (BOOK_ONLY=auto_gallery/index,sg_execution_times)
# needs the gallery's generated reST pages too; the pattern above only adds Markdown pages.
if _only and any(
    n.startswith("auto_gallery") or n == "sg_execution_times" for n in _only
):
    include_patterns += ["auto_gallery/**.rst", "sg_execution_times.rst"]

# --- doctest ---------------------------------------------------------------------------------
doctest_global_setup = """
import torch
torch.set_printoptions(precision=4, sci_mode=False)
"""
doctest_test_doctest_blocks = "default"

# --- autodoc ---------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}

# --- HTML: furo, and MathJax served from the book itself (no CDN) -----------------------------
html_theme = "furo"
html_title = "Attention, Executed"
html_static_path = ["docs/_static"]
_mathjax_pkg = importlib.util.find_spec("sphinx-mathjax-offline")
if _mathjax_pkg is not None and _mathjax_pkg.submodule_search_locations:
    # The package ships MathJax 3 under static/mathjax; copying its static folder gives
    # _static/mathjax/ in the book.
    html_static_path.append(
        str(Path(list(_mathjax_pkg.submodule_search_locations)[0]) / "static")
    )
    mathjax_path = "mathjax/tex-chtml.js"
else:  # pragma: no cover - the docs extra always installs it
    raise RuntimeError(
        "sphinx-mathjax-offline is missing: run `make html`, which installs it"
    )

# --- Run it yourself: copy buttons, page downloads, the wheel (docs/_ext/takeaway.py, wheel.py)
# The copy button copies the code only: ">>> " and "... " prompts are stripped and the lines
# without a prompt (a doctest's output) are left out. Output blocks get no button at all
# (myst-nb's cell outputs, sphinx-gallery's script output).
copybutton_prompt_text = r">>> |\.\.\. "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_copy_empty_lines = False  # a blank line of a doctest's output is output too
copybutton_selector = "div:not(.output):not(.sphx-glr-script-out) > div.highlight pre"
html_favicon = "docs/_static/favicon.svg"
html_css_files = ["takeaway.css", "reading.css"]
# A page's Markdown source is not copied into the site (the page offers itself as a notebook
# and a script instead): 0.4 MB less to ship (issue 19).
html_copy_source = False

# --- search: the page that introduces each of the chapter's own words ranks first -----------
# (docs/_ext/search_terms.py: a main index entry at the word's first use on that page)
search_introduced = {
    "softmax": "ch3_3_simple_self_attention",
    "query": "ch3_3_simple_self_attention",
    "causal": "ch3_5_causal_attention",
    "mask": "ch3_5_causal_attention",
}
# The torch the "Run it yourself" page tells a reader to install (the Makefile's pin).
run_it_torch = "torch==2.13.0"

# --- nitpicky: every cross-reference resolves, except these, each with its reason ----------
nitpicky = True
nitpick_ignore_regex = [
    # PyTorch's own objects (type hints, bases, :func: mentions): torch documents them on
    # its own site, and this book builds offline, so no intersphinx inventory can link them.
    (r"py:(class|func|meth|obj)", r"torch(\..*)?"),
    # Python's standard library, for the same reason (no intersphinx: the build is offline).
    (r"py:class", r"(collections\.abc|pathlib|typing)\..*"),
]
nitpick_ignore = [
    # forward() of the attention modules has no docstring of its own, so autodoc shows the
    # inherited torch.nn.Module.forward docstring, which says :class:`Module` (torch's).
    ("py:class", "Module"),
]
