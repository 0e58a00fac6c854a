"""Numbers on heatmap cells that stay readable on the darkest and the lightest cells.

The pages and gallery scripts draw attention weights as heatmaps with the value written on each
cell (:func:`annotate_heatmap`). A fixed text color vanishes on half the cells, so the color of
each number follows the color its cell was painted: white on dark cells, near-black on light
ones, whichever contrasts more by the WCAG relative luminance (:func:`relative_luminance`), the
measure behind the contrast ratios of accessibility guidelines. Only matplotlib is needed (and
only to call these functions: ``pip install "chapter3[plots]"``).

The book's own dark-mode styling of whole figures is a tool of its build, not a part of this
package (``docs/_ext/figure_style.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

#: Text colors used on heatmap cells: near-black on light cells, white on dark cells.
DARK_TEXT = "#111111"
LIGHT_TEXT = "#ffffff"


#: The gid given to the labels that :func:`annotate_heatmap` writes on cells, so that the
#: book's dark-mode restyling can leave them alone (they sit on the cell, not on the page).
CELL_LABEL_GID = "heatmap-cell-label"


def relative_luminance(color) -> float:
    """The WCAG relative luminance of a matplotlib color, from 0 (black) to 1 (white).

    >>> relative_luminance("black"), relative_luminance("white")
    (0.0, 1.0)
    >>> round(relative_luminance("#767676"), 3)
    0.181
    """
    from matplotlib.colors import to_rgb

    def linear(channel: float) -> float:
        if channel <= 0.04045:
            return channel / 12.92
        return ((channel + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in to_rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(color_a, color_b) -> float:
    """The WCAG contrast ratio of two colors, from 1 (same) to 21 (black on white).

    >>> round(contrast_ratio("black", "white"), 1)
    21.0
    """
    la, lb = sorted((relative_luminance(color_a), relative_luminance(color_b)))
    return (lb + 0.05) / (la + 0.05)


def text_color_on(background, dark: str = DARK_TEXT, light: str = LIGHT_TEXT) -> str:
    """The one of ``dark`` and ``light`` that contrasts more with ``background``.

    >>> text_color_on("white"), text_color_on("#08306b")  # the darkest blue of "Blues"
    ('#111111', '#ffffff')
    """
    if contrast_ratio(background, dark) >= contrast_ratio(background, light):
        return dark
    return light


def annotate_heatmap(
    ax,
    values,
    fmt: str = "{:.2f}",
    *,
    image=None,
    hidden=None,
    hidden_text: str = "–",
    labels=None,
    fontsize: float = 8,
) -> list:
    """Write every value of a 2-D ``values`` on its cell of the heatmap drawn in ``ax``.

    The text color of each cell is chosen from the color the image actually painted there
    (the colormap and normalisation of ``image``, by default the last image drawn in ``ax``):
    white on dark cells, near-black on light ones, whichever has the higher contrast.
    ``hidden`` (a boolean array of the same shape, ``True`` = hidden) writes ``hidden_text``
    instead of the number, for masked cells; ``labels`` (a 2-D grid of strings) writes those
    instead of the formatted values, still colored by the values' cells. Returns the text
    artists.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.imshow([[0.0, 1.0]], cmap="Blues", vmin=0, vmax=1)
    >>> [t.get_color() for t in annotate_heatmap(ax, [[0.0, 1.0]])]
    ['#111111', '#ffffff']
    >>> plt.close(fig)
    """
    if image is None:
        if not ax.images:
            raise ValueError("annotate_heatmap needs an image: call ax.imshow first")
        image = ax.images[-1]
    rows = _as_rows(values)
    hidden_rows = _as_rows(hidden) if hidden is not None else None
    label_rows = _as_rows(labels) if labels is not None else None
    texts = []
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            cell = image.cmap(image.norm(float(value)))
            is_hidden = hidden_rows is not None and bool(hidden_rows[i][j])
            if is_hidden:
                content = hidden_text
            elif label_rows is not None:
                content = str(label_rows[i][j])
            else:
                content = fmt.format(float(value))
            text = ax.text(
                j,
                i,
                content,
                ha="center",
                va="center",
                fontsize=fontsize,
                color=text_color_on(cell),
                gid=CELL_LABEL_GID,
            )
            texts.append(text)
    return texts


def _as_rows(values) -> list[Sequence]:
    if hasattr(values, "tolist"):
        values = values.tolist()
    rows = [list(row) for row in values]
    if not rows or not all(isinstance(r, list) for r in rows):
        raise ValueError("annotate_heatmap needs a 2-D array of values")
    return rows


__all__ = [
    "DARK_TEXT",
    "LIGHT_TEXT",
    "CELL_LABEL_GID",
    "relative_luminance",
    "contrast_ratio",
    "text_color_on",
    "annotate_heatmap",
]
