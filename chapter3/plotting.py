"""Small matplotlib helpers shared by the book's figures and gallery scripts.

Two problems come back in every heatmap and every figure of a book that has a dark mode:

* numbers written on heatmap cells must stay readable on the darkest *and* the lightest cells,
  so their color has to follow the cell's color (:func:`annotate_heatmap`);
* a figure drawn for a white page turns into a white box on a dark page, or its black labels
  vanish on the dark background; :func:`restyle_for_dark` recolors a finished figure for a dark
  page, leaving the data colors (images, bars, cell labels) as they are.

Colors are compared by their WCAG relative luminance (:func:`relative_luminance`), the measure
behind the contrast ratios of accessibility guidelines. Only matplotlib is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Text colors used on heatmap cells: near-black on light cells, white on dark cells.
DARK_TEXT = "#111111"
LIGHT_TEXT = "#ffffff"

#: The page of furo's dark mode, and the foreground (labels, ticks, spines) and panel colors
#: of a figure shown on it.
DARK_PAGE = "#131416"
DARK_PAGE_FOREGROUND = "#d6d6d6"
DARK_PAGE_PANEL = "#1e2124"

#: The gid given to the labels that :func:`annotate_heatmap` writes on cells, so that
#: :func:`restyle_for_dark` can leave them alone (they sit on the cell, not on the page).
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


def restyle_for_dark(
    fig,
    foreground: str = DARK_PAGE_FOREGROUND,
    panel: str = DARK_PAGE_PANEL,
) -> None:
    """Recolor a finished figure, in place, for a dark page with a transparent background.

    Page-colored parts change; data colors do not:

    * the figure and axes backgrounds become transparent, light legend frames and text boxes
      become ``panel``;
    * black and dark gray text, tick marks, spines and lines that sit on the page become
      ``foreground``; a colored one stays, lightened just enough to read on the page
      (contrast at least 3 with :data:`DARK_PAGE`), so that "the red arrow" is still red;
    * text that sits on data (an image cell, a filled patch, its own colored box) keeps its
      color when it reads there (contrast at least 4.5) and otherwise gets the near-black or
      white that contrasts more with what is under it;
    * images, filled patches, and the cell labels of :func:`annotate_heatmap` are left as
      they are; only white or light gray boxes (legend frames, text boxes) become ``panel``.

    Save the result with ``transparent=True`` or keep ``fig.patch`` as set here.
    """
    from matplotlib.colors import to_rgba
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.text import Text

    def neutral(rgba) -> bool:  # black, white or gray: a page color, not a data color
        return max(rgba[:3]) - min(rgba[:3]) < 0.12

    def is_dark(color) -> bool:
        rgba = to_rgba(color)
        return rgba[3] > 0 and neutral(rgba) and relative_luminance(rgba[:3]) < 0.2

    def is_light(color) -> bool:
        rgba = to_rgba(color)
        return rgba[3] > 0 and neutral(rgba) and relative_luminance(rgba[:3]) > 0.8

    def on_page(color):
        """The color for a line or text drawn straight on the dark page."""
        rgba = to_rgba(color)
        if rgba[3] == 0:
            return color
        if is_dark(rgba):
            return foreground
        readable = _readable_on(rgba, DARK_PAGE)
        return color if readable == rgba else readable

    # what each text sits on is decided before anything is recolored
    texts = [t for t in fig.findobj(Text) if t.get_gid() != CELL_LABEL_GID]
    under = {id(t): _background_under(t) for t in texts}

    fig.patch.set_facecolor("none")
    for ax in fig.axes:
        ax.patch.set_facecolor("none")
    for sub in getattr(fig, "subfigs", []):
        sub.patch.set_facecolor("none")
    for legend in fig.findobj(Legend):
        legend.get_frame().set_facecolor(panel)
        legend.get_frame().set_edgecolor(foreground)
    for text in texts:
        box = text.get_bbox_patch()
        background = under[id(text)]
        if box is not None and to_rgba(box.get_facecolor())[3] > 0.5:
            if is_light(box.get_facecolor()):
                box.set_facecolor(panel)
            background = box.get_facecolor()
        if box is not None and is_dark(box.get_edgecolor()):
            box.set_edgecolor(foreground)
        if background is None:
            text.set_color(on_page(text.get_color()))
        elif contrast_ratio(text.get_color(), background[:3]) < 4.5:
            text.set_color(text_color_on(background[:3]))
    for artist in fig.findobj():
        if isinstance(artist, Line2D):
            artist.set_color(on_page(artist.get_color()))
            artist.set_markeredgecolor(on_page(artist.get_markeredgecolor()))
            artist.set_markerfacecolor(on_page(artist.get_markerfacecolor()))
        elif isinstance(artist, Patch):
            artist.set_edgecolor(on_page(artist.get_edgecolor()))


def _readable_on(rgba, background, minimum: float = 3.0):
    """``rgba`` mixed with white (10 % steps) until it contrasts ``minimum`` with ``background``.

    >>> _readable_on((0.8, 0.1, 0.2, 1.0), "#131416")  # crimson reads on the dark page as is
    (0.8, 0.1, 0.2, 1.0)
    >>> [round(c, 2) for c in _readable_on((0.03, 0.19, 0.42, 1.0), "#131416")]  # navy
    [0.32, 0.43, 0.59, 1.0]
    """
    r, g, b, a = rgba
    for step in range(11):
        t = step / 10
        mixed = (r + (1 - r) * t, g + (1 - g) * t, b + (1 - b) * t)
        if contrast_ratio(mixed, background) >= minimum:
            return (*mixed, a) if step else rgba
    return (1.0, 1.0, 1.0, a)


def _background_under(text):
    """The RGBA color under a text's anchor inside its axes: an image cell or a filled patch.

    None when the text sits on the page (outside any image and filled patch, or not in axes).
    """
    from matplotlib.colors import to_rgba
    from matplotlib.patches import FancyArrowPatch

    ax = text.axes
    if ax is None or not text.get_text().strip():
        return None
    point = text.get_transform().transform(text.get_position())  # display coordinates
    x, y = ax.transData.inverted().transform(point)
    for image in reversed(ax.images):
        left, right, bottom, top = image.get_extent()
        if not (min(left, right) <= x <= max(left, right)):
            continue
        if not (min(bottom, top) <= y <= max(bottom, top)):
            continue
        data = image.get_array()
        rows, cols = data.shape[:2]
        first_row = top if image.origin == "upper" else bottom
        last_row = bottom if image.origin == "upper" else top
        row = int((y - first_row) / (last_row - first_row) * rows)
        col = int((x - left) / (right - left) * cols)
        value = data[min(max(row, 0), rows - 1), min(max(col, 0), cols - 1)]
        if data.ndim == 3:  # an RGB(A) image: the pixel is the color
            scale = 255.0 if data.dtype.kind in "ui" else 1.0
            return to_rgba([float(c) / scale for c in value])
        return image.cmap(image.norm(float(value)))
    for patch in reversed(ax.patches):
        if isinstance(patch, FancyArrowPatch):  # an arrow is not a background
            continue
        face = to_rgba(patch.get_facecolor())
        if face[3] > 0.5 and patch.contains_point(point):
            return face
    return None


def figure_alt_text(fig) -> str:
    """Alt text for a figure: its suptitle and axes titles, or failing those its labels.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set_title("Loss per epoch")
    >>> figure_alt_text(fig)
    'Loss per epoch'
    >>> plt.close(fig)
    """
    from matplotlib.text import Text

    titles = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        titles.append(suptitle.get_text().strip())
    for ax in fig.axes:
        for loc in ("left", "center", "right"):
            title = ax.get_title(loc=loc).strip()
            if title:
                titles.append(title)
    if titles:
        return " ".join(", ".join(titles).split())
    ticks = {  # tick labels and axis labels say little about what a figure shows
        id(label)
        for ax in fig.axes
        for axis in (ax.xaxis, ax.yaxis)
        for label in axis.findobj(Text)
    }
    labels = []
    for text in fig.findobj(Text):
        content = " ".join(_plain_math(text.get_text()).split())
        if content and id(text) not in ticks and content not in labels:
            labels.append(content)
    if not labels:
        return "A figure without a title or labels"
    return "A figure labelled: " + "; ".join(labels[:30])


def _plain_math(text: str) -> str:
    """Mathtext as plain words for alt text.

    >>> _plain_math("state $h_1$ and $s_{12}$")
    'state h1 and s12'
    """
    import re

    return re.sub(r"\$([^$]*)\$", lambda m: re.sub(r"[\\{}_^]", "", m.group(1)), text)


def _png(fig, **kwargs) -> tuple[bytes, int]:
    """The figure as PNG bytes at twice its dpi, and its width in CSS pixels."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=2 * fig.dpi, **kwargs)
    data = buffer.getvalue()
    width = int.from_bytes(data[16:20], "big")  # the PNG header's IHDR width
    return data, width // 2


def light_dark_html(fig) -> str:
    """HTML that shows ``fig`` as drawn on a light page, and restyled on a dark one.

    Two ``<img>`` elements with furo's ``only-light`` and ``only-dark`` classes, both with the
    alt text of :func:`figure_alt_text`. The figure itself is not changed: the dark variant
    is drawn from a copy (:func:`restyle_for_dark`).
    """
    import base64
    import html
    import pickle

    import matplotlib.pyplot as plt

    alt = html.escape(figure_alt_text(fig), quote=True)
    light, width = _png(fig, facecolor=fig.get_facecolor())
    dark_fig = pickle.loads(pickle.dumps(fig))
    try:
        restyle_for_dark(dark_fig)
        dark, _ = _png(dark_fig, transparent=True)
    finally:
        plt.close(dark_fig)
    images = []
    for variant, data in (("light", light), ("dark", dark)):
        src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        images.append(
            f'<img class="only-{variant}" src="{src}" alt="{alt}" width="{width}"/>'
        )
    return '<div class="light-dark-figure">' + "".join(images) + "</div>"


def register_light_dark_display(shell=None) -> bool:
    """Make an IPython kernel display every matplotlib figure with :func:`light_dark_html`.

    The book's build runs this at kernel start (``docs/_ext/notebook_figures.py``), so the
    figures of its executed pages work in light and dark mode and carry real alt text.
    pyplot is imported first: configuring the inline backend resets the figure formatters.
    Returns False outside IPython.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with the docs extra
            return False
        shell = get_ipython()
    if shell is None:
        return False
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close(
        plt.figure()
    )  # the first figure resolves the backend, which resets formatters

    formatter = shell.display_formatter.formatters["text/html"]

    def register(*_args) -> None:
        formatter.for_type(Figure, light_dark_html)

    register()
    shell.events.register("pre_run_cell", register)  # again after any %matplotlib magic
    return True
