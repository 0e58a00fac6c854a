"""Drawing primitives of the concept figures: themes, boxes, arrows and small matrices.

Every figure is drawn twice, once per :data:`THEMES` entry, on a transparent background: the
light theme for furo's light mode, the dark theme for its dark mode. A figure's axes span the
whole canvas and use inches as data units (``canvas(8, 3)`` gives x in 0..8 and y in 0..3), so
layouts read as measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import matplotlib.text

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from chapter3.heatmap import text_color_on  # noqa: E402


@dataclass(frozen=True)
class Theme:
    """The colors of one page mode. ``fg`` is text and lines, ``muted`` secondary text."""

    name: str
    fg: str
    muted: str
    box: str  # neutral fill of a box
    query: str
    key: str
    value: str
    accent: str  # what the figure wants the eye on (the one query, the loss positions)
    hidden: str  # masked / dropped / ignored cells
    cmap: str = "Blues"


THEMES = {
    "light": Theme(
        name="light",
        fg="#1a1a1a",
        muted="#5a5a5a",
        box="#e8eef5",
        query="#c6dbef",
        key="#fdd0a2",
        value="#c7e9c0",
        accent="#c0392b",
        hidden="#d9d9d9",
    ),
    "dark": Theme(
        name="dark",
        fg="#e0e0e0",
        muted="#a8a8a8",
        box="#2b3440",
        query="#1f4e79",
        key="#7a4214",
        value="#2d5e2a",
        accent="#ff7b6b",
        hidden="#3a3a3a",
    ),
}


def canvas(width: float, height: float):
    """A figure of ``width`` x ``height`` inches whose data units are inches, axes hidden."""
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    fig.patch.set_alpha(0)
    return fig, ax


def text(ax, x, y, s, theme: Theme, *, muted=False, color=None, **kwargs):
    kwargs.setdefault("ha", "center")
    kwargs.setdefault("va", "center")
    kwargs.setdefault("fontsize", 10)
    color = color or (theme.muted if muted else theme.fg)
    return ax.text(x, y, s, color=color, **kwargs)


def box(ax, x, y, w, h, label, theme: Theme, *, fill=None, fontsize=10, bold=False):
    """A rounded box centred on (x, y) with a label; text color follows the fill."""
    fill = fill or theme.box
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=fill,
            edgecolor=theme.fg,
            linewidth=0.9,
        )
    )
    ax.text(
        x,
        y,
        label,
        ha="center",
        va="center",
        fontsize=fontsize,
        color=text_color_on(fill),
        fontweight="bold" if bold else "normal",
    )


def arrow(ax, start, end, theme: Theme, *, color=None, lw=1.2, style="-|>", rad=0.0):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=12,
            color=color or theme.fg,
            linewidth=lw,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=0,
            shrinkB=0,
        )
    )


def matrix(
    ax,
    x,
    y,
    values,
    theme: Theme,
    *,
    cell=0.42,
    fmt="{:.2f}",
    fill=None,
    cmap=None,
    vmin=0.0,
    vmax=1.0,
    hidden=None,
    hidden_text="",
    fontsize=7.5,
    label=None,
    shape=None,
    row_labels=None,
    col_labels=None,
    texts=None,
):
    """Draw a 2-D array as a grid whose top-left corner is (x, y); return its right edge.

    Cells are filled with ``fill`` (one color) or by ``cmap`` over ``vmin..vmax``; ``hidden``
    (a boolean grid) paints hidden cells ``theme.hidden`` with ``hidden_text``. ``texts``
    replaces the formatted numbers. ``label`` goes above the grid, ``shape`` below it.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    rows = values.tolist() if hasattr(values, "tolist") else values
    rows = [r if isinstance(r, list) else [r] for r in rows]
    n_rows, n_cols = len(rows), len(rows[0])
    norm = Normalize(vmin, vmax)
    colormap = colormaps[cmap] if cmap else None
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            is_hidden = hidden is not None and bool(hidden[i][j])
            if is_hidden:
                color = theme.hidden
            elif colormap is not None:
                color = colormap(norm(float(value)))
            else:
                color = fill or theme.box
            ax.add_patch(
                Rectangle(
                    (x + j * cell, y - (i + 1) * cell),
                    cell,
                    cell,
                    facecolor=color,
                    edgecolor=theme.fg,
                    linewidth=0.6,
                )
            )
            if texts is not None:
                s = texts[i][j]
            elif is_hidden:
                s = hidden_text
            else:
                s = fmt.format(float(value))
            ax.text(
                x + (j + 0.5) * cell,
                y - (i + 0.5) * cell,
                s,
                ha="center",
                va="center",
                fontsize=fontsize,
                color=theme.muted if is_hidden else text_color_on(color),
            )
    width, height = n_cols * cell, n_rows * cell
    if label:
        text(ax, x + width / 2, y + 0.18, label, theme, fontsize=9.5, va="bottom")
    if shape:
        text(
            ax,
            x + width / 2,
            y - height - 0.07,
            shape,
            theme,
            muted=True,
            fontsize=8,
            va="top",
        )
    if row_labels:
        for i, name in enumerate(row_labels):
            text(
                ax, x - 0.08, y - (i + 0.5) * cell, name, theme, ha="right", fontsize=8
            )
    if col_labels:
        for j, name in enumerate(col_labels):
            text(
                ax,
                x + (j + 0.5) * cell,
                y + 0.06,
                name,
                theme,
                fontsize=7.5,
                rotation=40,
                ha="left",
                va="bottom",
            )
    return x + width


#: The width (inches) at which a figure's text shows at its nominal size in the book's
#: content column; wider figures are scaled down by the browser, so their text is enlarged.
COLUMN_WIDTH = 8.0
MAX_TEXT_SCALE = 1.4


def fit_text_to_column(fig) -> float:
    """Enlarge every text of a figure wider than the column, so it reads once scaled down.

    Returns the factor used (1.0 for a figure that fits the column).
    """
    width = fig.get_size_inches()[0]
    factor = min(MAX_TEXT_SCALE, max(1.0, width / COLUMN_WIDTH))
    if factor > 1.0:
        for text in fig.findobj(matplotlib.text.Text):
            text.set_fontsize(text.get_fontsize() * factor)
    return factor
