"""A lighter site (docs/_ext/light_site.py), without a build: what stays of MathJax, lazy
light/dark figures, inline figures written out as files, palette PNGs; and the page
notebooks keep one copy of each figure (docs/_ext/takeaway.py)."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from types import SimpleNamespace

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import light_site  # noqa: E402
from takeaway import _clean_output  # noqa: E402


def _png(mode="RGBA", size=(120, 80)) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(size[0] / 40, size[1] / 40), dpi=40)
    ax.plot([0, 1, 2], [0, 1, 0.5])
    ax.set_title("a figure")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", transparent=True)
    plt.close(fig)
    return buffer.getvalue()


def test_prune_mathjax_keeps_only_what_pages_load(tmp_path):
    root = tmp_path / "_static" / "mathjax"
    files = [
        "tex-chtml.js",
        "tex-svg.js",
        "sre/speech-worker.js",
        "input/tex/extensions/cancel.js",
        "input/mml.js",
        "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
        "output/svg.js",
    ]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    light_site.prune_mathjax(app, None)
    left = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
    )
    assert left == [
        "input/tex/extensions/cancel.js",
        "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
        "tex-chtml.js",
    ]
    assert not (root / "sre").exists()


def test_light_and_dark_figures_are_lazy_and_inline_ones_become_files(tmp_path):
    document = new_document("page", get_default_settings(Parser))
    for scheme in ("light", "dark"):
        box = nodes.container(classes=[f"only-{scheme}"])
        box += nodes.image(uri=f"fig-{scheme}.png")
        document += box
    document += nodes.image(uri="plain.png")
    data = base64.b64encode(_png()).decode()
    html = (
        f'<img class="only-light" src="data:image/png;base64,{data}" alt="a"/>'
        f'<img class="only-dark" src="data:image/png;base64,{data}" alt="a"/>'
    )
    document += nodes.raw(html, html, format="html")
    app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    light_site.lazy_variants(app, document, "sub/page")
    images = list(document.findall(nodes.image))
    assert [i.get("loading") for i in images] == ["lazy", "lazy", None]
    raw = next(document.findall(nodes.raw)).astext()
    assert "data:image" not in raw
    assert raw.count('loading="lazy"') == 2
    assert raw.count('src="../_images/inline_') == 2
    written = list((tmp_path / "_images").glob("inline_*.png"))
    assert len(written) == 1 and written[0].read_bytes() == base64.b64decode(data)


def test_palette_png_is_smaller_and_keeps_size_and_transparency(tmp_path):
    from PIL import Image

    path = tmp_path / "figure.png"
    path.write_bytes(_png(size=(400, 300)))
    before = path.stat().st_size
    assert light_site.palette_png(path)
    assert path.stat().st_size < before
    with Image.open(path) as image:
        assert image.mode == "P" and image.size == (400, 300)
        assert image.convert("RGBA").getpixel((0, 0))[3] == 0  # still transparent
    assert not light_site.palette_png(path)  # already a palette: left alone


def test_a_notebook_keeps_the_png_of_a_figure_not_the_light_dark_pair():
    png = _png(size=(400, 300))
    output = {
        "output_type": "display_data",
        "data": {
            "image/png": base64.b64encode(png).decode(),
            "text/html": '<img class="only-light" src="x"/><img class="only-dark" src="y"/>',
            "text/plain": "<Figure>",
        },
    }
    kept = _clean_output(output)["data"]
    assert sorted(kept) == ["image/png", "text/plain"]
    assert len(base64.b64decode(kept["image/png"])) < len(png)  # with a palette
    table = {"output_type": "display_data", "data": {"text/html": "<table></table>"}}
    assert _clean_output(table)["data"] == {"text/html": "<table></table>"}
