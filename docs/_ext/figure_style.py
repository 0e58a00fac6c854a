"""The book's figures in light and dark mode: a build tool, not a part of the package.

A figure drawn for a white page turns into a white box on a dark page, or its black labels
vanish on the dark background. :func:`restyle_for_dark` recolors a finished figure for furo's
dark page, leaving the data colors (images, bars, the cell labels of
:func:`chapter3.heatmap.annotate_heatmap`) as they are; :func:`light_dark_html` shows a figure
in both variants with real alt text (:func:`figure_alt_text`), and
:func:`register_light_dark_display` makes an executed page's kernel do so for every figure
(``notebook_figures.py``). The gallery's scraper (``light_dark.py``) uses the same restyling.
"""

from __future__ import annotations

from chapter3.heatmap import (
    CELL_LABEL_GID,
    contrast_ratio,
    relative_luminance,
    text_color_on,
)

#: The page of furo's dark mode, and the foreground (labels, ticks, spines) and panel colors
#: of a figure shown on it.
DARK_PAGE = "#131416"
DARK_PAGE_FOREGROUND = "#d6d6d6"
DARK_PAGE_PANEL = "#1e2124"


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

    # the first figure resolves the backend, which resets formatters
    plt.close(plt.figure())

    formatter = shell.display_formatter.formatters["text/html"]

    def register(*_args) -> None:
        formatter.for_type(Figure, light_dark_html)

    register()
    shell.events.register("pre_run_cell", register)  # again after any %matplotlib magic
    return True
