"""Fail the build when a gallery script failed, or silently did not run.

sphinx-gallery already fails the build (``ExtensionError`` at ``build-finished``) when a script
raises. It does not notice a script that was never executed: a file whose name misses
``filename_pattern``, an ``.md5`` stamp that survived while the output it vouches for was lost,
or a page left over from a ``plot_gallery=0`` build. Such a page has no figure and records a run
time of zero, and the build is still green: the failure mode that made the PyTorch tutorials
check every built page for "0 minutes 0.000 seconds".

This extension runs right after sphinx-gallery has generated the gallery (``builder-inited``,
after its handler) and, when ``plot_gallery`` is on, checks every script of every gallery:

1. it matches ``filename_pattern`` (otherwise sphinx-gallery never executes it);
2. its page exists and records a run time above zero;
3. every figure its page shows exists on disk, with real alt text (sphinx-gallery builds it from
   the figure's suptitle and axes titles; a figure without titles gets its file name, which
   is refused, as is anything that looks like a file name, a path or a hash), and with the
   dark variant that ``light_dark`` writes beside it;
4. its row on the execution-times page (the ``.cost.json`` cache) is above zero.

A script skipped because its MD5 is unchanged passes: its page, figures and cost are those of
the run that wrote the MD5 stamp (sphinx-gallery writes the stamp only after a successful run,
and ``freshness`` deletes every stamp when ``chapter3`` changes). A script that failed is
reported here as well, with its traceback, so the build stops before reading the whole book.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from light_dark import dark_variants_missing
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

_TIMING = re.compile(
    r"\*\*Total running time of the script:\*\*\s*\(\s*(\d+)\s*minutes\s*([\d.]+)\s*seconds\)"
)
_IMAGE = re.compile(r"^\s*(?:\.\. image-sg::|:srcset:)\s*(\S+)", re.MULTILINE)
_FIGURE = re.compile(r"^\s*\.\. image-sg::\s*(\S+)\n\s*:alt:(.*)$", re.MULTILINE)


def fallback_alt(image: str) -> str:
    """The alt text sphinx-gallery gives a figure that has no title: its file name, reworded.

    >>> fallback_alt("/auto_gallery/images/sphx_glr_plot_masks_002.png")
    'plot masks'
    """
    return re.sub(r"[-,_]", " ", Path(image).stem[len("sphx_glr_") : -len("_002")])


_HASHLIKE = re.compile(r"\b[0-9a-f]{12,}\b", re.IGNORECASE)
_FILELIKE = re.compile(r"\S+\.(png|jpe?g|svg|gif|webp)\b|sphx_glr_", re.IGNORECASE)


def alt_problem(image: str, alt: str) -> str | None:
    """Why ``alt`` is not real alt text for ``image`` (None when it is).

    Alt text must say what the figure shows: not empty, not the file name sphinx-gallery
    falls back to, and nothing that looks like an image file name or a hash.

    >>> alt_problem("/i/sphx_glr_plot_masks_001.png", "Masks of a padded batch")
    >>> alt_problem("/i/sphx_glr_plot_masks_001.png", "plot masks")
    'it is the file name'
    >>> alt_problem("/i/x.png", "_images/3f2a9c1be0d47a6e.png")
    'it looks like a file name or a hash'
    >>> alt_problem("/i/x.png", "Weights: softmax(q · k / √2)")
    """
    alt = alt.strip()
    if not alt:
        return "it is empty"
    if alt == fallback_alt(image):
        return "it is the file name"
    if _HASHLIKE.search(alt) or _FILELIKE.search(alt):
        return "it looks like a file name or a hash"
    return None


def _light_dark(gallery_conf) -> bool:
    """Whether the gallery saves dark variants (``light_dark.scraper`` is configured)."""
    scrapers = gallery_conf.get("image_scrapers", ())
    return any(
        (s if isinstance(s, str) else getattr(s, "__module__", "")).startswith(
            "light_dark"
        )
        for s in scrapers
    )


def _pairs(app, gallery_conf):
    src = Path(app.srcdir)
    examples = gallery_conf["examples_dirs"]
    galleries = gallery_conf["gallery_dirs"]
    examples = [examples] if isinstance(examples, str) else list(examples)
    galleries = [galleries] if isinstance(galleries, str) else list(galleries)
    return [
        ((src / e).resolve(), src / g) for e, g in zip(examples, galleries, strict=True)
    ]


def recorded_seconds(page_text: str) -> float:
    """The run time a generated example page records, in seconds (0.0 when it records none).

    >>> recorded_seconds("**Total running time of the script:** (1 minutes 2.500 seconds)")
    62.5
    >>> recorded_seconds("no timing line: the script was not executed")
    0.0
    """
    match = _TIMING.search(page_text)
    if match is None:
        return 0.0
    return 60 * int(match.group(1)) + float(match.group(2))


def check_script(
    app, script: Path, examples_dir: Path, gallery_dir: Path, gallery_conf
) -> list:
    """Return the problems (strings) of one gallery script; an empty list means it ran."""
    rel = script.relative_to(examples_dir)
    page = gallery_dir / rel.with_suffix(".rst")
    name = rel.as_posix()
    if not re.search(gallery_conf["filename_pattern"], str(script)):
        return [
            f"{name}: never executed, its path does not match filename_pattern "
            f"{gallery_conf['filename_pattern']!r} (name it plot_*.py)"
        ]
    if not page.is_file():
        return [f"{name}: no generated page {page}"]
    text = page.read_text(encoding="utf-8")
    problems = []
    if recorded_seconds(text) <= 0:
        problems.append(
            f"{name}: its page records no run time, so the script did not run in this build "
            f"nor in the build that stamped {page.name}.md5 (delete that file and rebuild)"
        )
    for image in sorted(set(_IMAGE.findall(text))):
        path = Path(app.srcdir) / image.split(",")[0].lstrip("/")
        if not path.is_file():
            problems.append(f"{name}: its page shows {image}, which does not exist")
    for image, alt in _FIGURE.findall(text):
        why = alt_problem(image, alt)
        if why is not None:
            problems.append(
                f"{name}: {Path(image).name} has no real alt text ({why}); give the figure "
                "a suptitle or axes titles that say what it shows"
            )
    shown = sorted(set(_IMAGE.findall(text)))
    for image in (
        dark_variants_missing(shown, app.srcdir) if _light_dark(gallery_conf) else []
    ):
        problems.append(
            f"{name}: {Path(image).name} has no dark variant (docs/_ext/light_dark.py "
            "writes one beside every figure)"
        )
    cost = page.with_name(page.stem + ".cost.json")
    seconds = 0.0
    if cost.is_file():
        try:
            seconds = float(json.loads(cost.read_text())["time"])
        except (ValueError, KeyError, TypeError):
            seconds = 0.0
    if seconds <= 0:
        problems.append(
            f"{name}: the execution-times page would list it at 0 s ({cost.name} missing or 0)"
        )
    return problems


def check_gallery(app) -> None:
    """``builder-inited`` handler, run after sphinx-gallery generated the gallery."""
    gallery_conf = app.config.sphinx_gallery_conf
    if not gallery_conf.get("plot_gallery"):
        return
    problems = []
    failing = gallery_conf.get("failing_examples", {})
    for path, traceback in failing.items():
        problems.append(f"{Path(path).name} failed:\n{traceback}")
    ignore = gallery_conf.get("ignore_pattern", r"__init__\.py")
    checked = 0
    for examples_dir, gallery_dir in _pairs(app, gallery_conf):
        for script in sorted(examples_dir.rglob("*.py")):
            if "__pycache__" in script.parts or re.search(ignore, str(script)):
                continue
            if str(script) in failing:
                continue
            checked += 1
            problems += check_script(
                app, script, examples_dir, gallery_dir, gallery_conf
            )
    if problems:
        raise ExtensionError(
            "gallery_guard: gallery scripts failed or did not run:\n  - "
            + "\n  - ".join(problems)
        )
    logger.info(
        f"gallery_guard: all {checked} gallery scripts ran and have their figures"
    )


def setup(app):
    # sphinx-gallery generates the gallery at builder-inited with the default priority (500).
    app.connect("builder-inited", check_gallery, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
