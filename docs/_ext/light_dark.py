"""A sphinx-gallery image scraper that saves every figure twice: for a light and a dark page.

sphinx-gallery's own matplotlib scraper saves each figure once, as drawn: black labels on a
white background, which furo's dark mode shows as a white box. This scraper saves the figure as
drawn (the light variant, the one sphinx-gallery also uses for thumbnails), then recolors it
with :func:`figure_style.restyle_for_dark` and saves a second, transparent file beside it
(``..._dark.png``). The page shows them in two containers with furo's ``only-light`` and
``only-dark`` classes, so the reader sees exactly one of them in either mode.

The scripts stay plain matplotlib: a reader who downloads one gets the light figure.
Configured in ``conf.py`` as ``"image_scrapers": ("light_dark.scraper",)``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from textwrap import indent

DARK_SUFFIX = "_dark"


def dark_path(image_path) -> PurePosixPath:
    """Where the dark variant of a gallery image is written.

    >>> dark_path("/x/images/sphx_glr_plot_masks_001.png").name
    'sphx_glr_plot_masks_001_dark.png'
    """
    path = PurePosixPath(image_path)
    return path.with_name(path.stem + DARK_SUFFIX + path.suffix)


def _one_variant(rst: str, css_class: str) -> str:
    return f"\n.. container:: {css_class}\n" + indent(rst, "   ") + "\n"


def scraper(block, block_vars, gallery_conf, **kwargs):
    """Save each open figure light and dark; return reST that shows the one for the mode."""
    import matplotlib.pyplot as plt
    from figure_style import restyle_for_dark
    from sphinx_gallery.scrapers import _matplotlib_fig_titles, figure_rst

    rst = ""
    image_path_iterator = block_vars["image_path_iterator"]
    for fig_num, image_path in zip(
        plt.get_fignums(), image_path_iterator, strict=False
    ):
        fig = plt.figure(fig_num)
        titles = _matplotlib_fig_titles(fig)
        light = PurePosixPath(image_path)
        fig.savefig(light, facecolor=fig.get_facecolor())
        restyle_for_dark(fig)
        dark = dark_path(light)
        fig.savefig(dark, transparent=True)
        for path, css_class in ((light, "only-light"), (dark, "only-dark")):
            one = figure_rst([path], gallery_conf["src_dir"], titles, [{0: path}])
            rst += _one_variant(one, css_class)
    plt.close("all")
    return rst


def dark_variants_missing(images: list[str], srcdir) -> list[str]:
    """The light gallery images among ``images`` whose dark variant is not on disk."""
    missing = []
    for image in images:
        path = Path(srcdir) / image.split(",")[0].lstrip("/")
        if path.stem.endswith(DARK_SUFFIX):
            continue
        if not Path(dark_path(path)).is_file():
            missing.append(image)
    return missing
