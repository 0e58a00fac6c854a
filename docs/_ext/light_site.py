"""A lighter site: only the MathJax a page loads, and only the figure of the reader's scheme.

- **MathJax.** ``sphinx-mathjax-offline`` ships all of MathJax 3 (24 MB: every combined
  component, the speech engine, SVG output). The pages load one combined file,
  ``tex-chtml.js``, the CHTML fonts it asks for, and TeX extensions that its ``autoload``
  fetches for a macro it does not know yet. After the build everything else under
  ``_static/mathjax`` is removed (:data:`MATHJAX_KEEP`).
- **Figures.** Every figure exists twice, for furo's light and dark scheme, in an
  ``only-light`` and an ``only-dark`` element; furo hides the other one with
  ``display: none``. Each of these images gets ``loading="lazy"``: a browser fetches a lazy
  image when it is about to be shown, never while it is ``display: none``, so a page
  downloads the figures of one scheme, and the other's only if the reader switches. The
  executed pages' figures arrive as HTML with the PNG inline (``data:`` URIs, both variants
  inside the page); they are written out to ``_images/`` as files first, so that they too
  are fetched only when shown.
- **Images.** The figures are matplotlib PNGs in 32-bit colour; after the build every PNG
  under ``_images/`` is stored with a palette of 256 colours instead (flat fills, lines and
  text need no more), which makes them about a third of the size. An image that would not
  get smaller is left alone.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
import shutil
from pathlib import Path

from docutils import nodes

# What stays of _static/mathjax, relative to it (a folder keeps everything under it).
MATHJAX_KEEP = ("tex-chtml.js", "input/tex/extensions/", "output/chtml/fonts/woff-v2/")
VARIANTS = {"only-light", "only-dark"}
INLINE_IMG = re.compile(
    r'<img(?P<before>[^>]*?) src="data:image/(?P<type>png|jpeg|svg\+xml);base64,'
    r'(?P<data>[A-Za-z0-9+/=]+)"(?P<after>[^>]*)>'
)


def _in_variant(node: nodes.Node) -> bool:
    while node is not None:
        if VARIANTS & set(
            node.get("classes", []) if isinstance(node, nodes.Element) else []
        ):
            return True
        node = node.parent
    return False


def _write_image(outdir: Path, kind: str, data: str) -> str:
    """Write one inline image to ``_images/``; return its path relative to the site."""
    raw = base64.b64decode(data)
    suffix = {"png": ".png", "jpeg": ".jpg", "svg+xml": ".svg"}[kind]
    name = f"_images/inline_{hashlib.sha256(raw).hexdigest()[:16]}{suffix}"
    target = outdir / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
    return name


def lazy_variants(app, doctree, docname) -> None:
    """``loading="lazy"`` on every light/dark image; inline ones become files first."""
    if app.builder.format != "html":
        return
    for image in doctree.findall(nodes.image):
        if _in_variant(image):
            image["loading"] = "lazy"
    outdir = Path(app.outdir)
    here = posixpath.dirname(docname)

    def as_file(match: re.Match) -> str:
        attrs = match["before"] + match["after"]
        if not re.search(r'class="[^"]*only-(light|dark)', attrs):
            return match[0]
        name = _write_image(outdir, match["type"], match["data"])
        src = posixpath.relpath(name, here) if here else name
        return f'<img{match["before"]} src="{src}" loading="lazy"{match["after"]}>'

    for raw in list(doctree.findall(nodes.raw)):
        if (
            "html" not in raw.get("format", "").split()
            or "data:image" not in raw.astext()
        ):
            continue
        text = INLINE_IMG.sub(as_file, raw.astext())
        raw.replace_self(nodes.raw(text, text, format="html", classes=raw["classes"]))


def prune_mathjax(app, exception) -> None:
    """Remove every MathJax file the pages never load from the built site."""
    if exception is not None or app.builder.format != "html":
        return
    root = Path(app.outdir) / "_static" / "mathjax"
    if not (root / "tex-chtml.js").is_file():
        return
    for path in sorted(root.iterdir()):
        rel = path.relative_to(root).as_posix()
        if path.is_dir():
            keep = [k for k in MATHJAX_KEEP if k.startswith(rel + "/")]
            if not keep:
                shutil.rmtree(path)
                continue
            for inner in sorted(path.rglob("*"), reverse=True):
                inner_rel = inner.relative_to(root).as_posix()
                if inner.is_file() and not any(
                    inner_rel == k or (k.endswith("/") and inner_rel.startswith(k))
                    for k in MATHJAX_KEEP
                ):
                    inner.unlink()
                elif inner.is_dir() and not any(inner.iterdir()):
                    inner.rmdir()
        elif rel not in MATHJAX_KEEP:
            path.unlink()


def palette_bytes(data: bytes) -> bytes:
    """The PNG ``data`` with a 256-colour palette, or ``data`` itself if not smaller."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG" or image.mode == "P":
                return data
            image.load()
            palette = image.convert("RGBA").quantize(
                256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
            )
    except (OSError, ValueError):  # not an image Pillow reads: kept as it is
        return data
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", optimize=True)
    return buffer.getvalue() if buffer.tell() < len(data) else data


def palette_png(path: Path) -> bool:
    """Store the PNG at ``path`` with a 256-colour palette if that makes it smaller."""
    data = path.read_bytes()
    smaller = palette_bytes(data)
    if smaller is data:
        return False
    path.write_bytes(smaller)
    return True


def palette_images(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for path in sorted((Path(app.outdir) / "_images").glob("*.png")):
        palette_png(path)


def setup(app):
    app.connect("doctree-resolved", lazy_variants)
    app.connect("build-finished", prune_mathjax)
    app.connect("build-finished", palette_images)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
