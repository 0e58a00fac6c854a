"""Every figure of an executed page in a light and a dark variant, with real alt text.

myst-nb shows a matplotlib figure as the PNG the kernel's inline backend made of it: black on
white, a white box in dark mode, with the image's file name (a hash) as alt text. This
extension gives the kernel an IPython startup file (in ``<build>/ipython``, named by
``IPYTHONDIR``) that runs :func:`figure_style.register_light_dark_display`: the kernel
then also offers each figure as HTML with two images, the light one as drawn and a dark one
restyled by :func:`figure_style.restyle_for_dark`, under furo's ``only-light`` and
``only-dark`` classes and with the figure's titles as alt text. myst-nb prefers HTML to PNG,
so the page shows the pair; the pages themselves need no change.

This file is watched by ``freshness`` (see ``conf.py``), so editing it re-executes the pages.
"""

from __future__ import annotations

import os
from pathlib import Path

STARTUP = f"""\
# Written by docs/_ext/notebook_figures.py at every build; do not edit.
import sys

sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})  # docs/_ext: figure_style

from figure_style import register_light_dark_display

register_light_dark_display()
"""


def startup_file(ipython_dir) -> Path:
    """Where the kernel's startup file goes under ``ipython_dir``."""
    return Path(ipython_dir) / "profile_default" / "startup" / "00-light-dark.py"


def _install(app, config) -> None:
    ipython_dir = Path(app.outdir).parent / "ipython"
    path = startup_file(ipython_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != STARTUP:
        path.write_text(STARTUP)
    # inherited by the kernels myst-nb starts
    os.environ["IPYTHONDIR"] = str(ipython_dir)


def setup(app):
    app.connect("config-inited", _install)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
