"""Concept figures drawn by code at build time, in a light and a dark variant.

The drawings live in ``docs/_figures/`` (``fig_registry.py`` lists them, with alt text and
caption). At ``builder-inited`` this extension draws every registered figure twice, with the
light and the dark theme of ``docs/_figures/fig_style.py``, on a transparent background, into
``docs/_generated/figures/`` (ignored by git, removed by ``make clean``). It redraws only when
the drawing code or the ``chapter3`` package changed: a hash of both is stamped beside the
images. A page shows a figure with::

    ```{concept-figure} two-routes
    ```

which becomes a figure holding both images, one with furo's ``only-light`` class and one
with ``only-dark``, so exactly one is visible in either mode; both carry the registry's alt
text. The directive notes the images as dependencies, so a redrawn figure re-reads its page.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from docutils import nodes
from freshness import watched_hash
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

VARIANTS = ("light", "dark")
OUT_DIR = Path("_generated") / "figures"  # relative to the source directory
STAMP = ".figures-hash"
DPI = 150


def _figures_dir(srcdir) -> Path:
    return Path(srcdir) / "_figures"


def load_registry(srcdir):
    """Import ``docs/_figures/fig_registry.py`` (its folder goes on ``sys.path``)."""
    folder = str(_figures_dir(srcdir))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("fig_registry")


def image_name(name: str, variant: str) -> str:
    """The file of one variant of one figure.

    >>> image_name("two-routes", "dark")
    'two-routes-dark.png'
    """
    return f"{name}-{variant}.png"


def source_hash(srcdir, package_dirs) -> str:
    """Hash of the drawing code, this extension and the package the numbers come from."""
    return watched_hash(
        [_figures_dir(srcdir), Path(__file__)] + [Path(p) for p in package_dirs]
    )


def draw_all(srcdir, out_dir, dpi: int = DPI, names=None) -> list[Path]:
    """Draw every registered figure (or those in ``names``) in both variants; return paths."""
    import matplotlib.pyplot as plt

    registry = load_registry(srcdir)
    style = importlib.import_module("fig_style")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for figure in registry.FIGURES:
        if names is not None and figure.name not in names:
            continue
        for variant in VARIANTS:
            fig = figure.draw(style.THEMES[variant])
            style.fit_text_to_column(fig)
            path = out_dir / image_name(figure.name, variant)
            fig.savefig(path, dpi=dpi, transparent=True)
            plt.close(fig)
            written.append(path)
    return written


# Whether this build shows figures (an HTML build) or leaves them out (make doctest).
_SHOWN = {"html": True}


def _draw_if_stale(app) -> None:
    _SHOWN["html"] = app.builder.format == "html"
    if not _SHOWN["html"]:
        return
    srcdir = Path(app.srcdir)
    out_dir = srcdir / OUT_DIR
    current = source_hash(srcdir, [Path(app.confdir) / "chapter3"])
    stamp = out_dir / STAMP
    registry = load_registry(srcdir)
    expected = [
        out_dir / image_name(f.name, v) for f in registry.FIGURES for v in VARIANTS
    ]
    if (
        stamp.is_file()
        and stamp.read_text() == current
        and all(p.is_file() for p in expected)
    ):
        logger.info("concept_figures: %d figures up to date", len(registry.FIGURES))
        return
    for old in out_dir.glob("*.png"):
        old.unlink()
    written = draw_all(srcdir, out_dir)
    stamp.write_text(current)
    logger.info("concept_figures: drew %d images", len(written))


class ConceptFigureDirective(SphinxDirective):
    """``{concept-figure} name``: both variants of a registered figure, with its caption.

    A directive body, if given, replaces the registry's caption.
    """

    required_arguments = 1
    has_content = True

    def run(self):
        registry = load_registry(self.env.srcdir)
        name = self.arguments[0]
        if name not in registry.BY_NAME:
            raise self.error(
                f"unknown concept figure {name!r}; known: {sorted(registry.BY_NAME)}"
            )
        spec = registry.BY_NAME[name]
        if not _SHOWN["html"]:
            return []  # the doctest builder neither draws nor shows the figures
        figure = nodes.figure(classes=["concept-figure"], align="center")
        figure["ids"].append(f"figure-{name}")
        for variant in VARIANTS:
            rel = (OUT_DIR / image_name(name, variant)).as_posix()
            figure += nodes.image(
                uri="/" + rel, alt=spec.alt, classes=[f"only-{variant}"]
            )
            self.env.note_dependency(str(Path(self.env.srcdir) / rel))
        caption_text = "\n".join(self.content).strip() or spec.caption
        inline, messages = self.state.inline_text(caption_text, self.lineno)
        figure += nodes.caption(caption_text, "", *inline)
        return [figure, *messages]


def check_registry(registry) -> list[str]:
    """Problems of a registry: duplicate names, missing or file-like alt text, no caption."""
    problems, seen = [], set()
    for figure in registry.FIGURES:
        if figure.name in seen:
            problems.append(f"{figure.name}: registered twice")
        seen.add(figure.name)
        alt = figure.alt.strip()
        if len(alt.split()) < 8 or alt.lower().endswith((".png", ".svg")):
            problems.append(f"{figure.name}: alt text must be a sentence, got {alt!r}")
        if not figure.caption.strip():
            problems.append(f"{figure.name}: no caption")
    return problems


def _check(app) -> None:
    problems = check_registry(load_registry(app.srcdir))
    if problems:
        raise ExtensionError("concept_figures:\n  - " + "\n  - ".join(problems))


def setup(app):
    app.connect("builder-inited", _check)
    app.connect("builder-inited", _draw_if_stale)
    app.add_directive("concept-figure", ConceptFigureDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
