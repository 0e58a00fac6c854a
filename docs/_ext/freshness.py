"""Keep executed output honest: tie every cache of the build to the source it runs.

Sphinx, myst-nb and sphinx-gallery each cache what they execute, and each keys its cache on
the *page* or the *script*, never on the package the page imports. Left alone, a change in
``chapter3/`` would leave old numbers and old figures in the book under a green build. This
extension closes the gap in three places:

1. ``watched_hash`` hashes the watched source trees; ``conf.py`` puts that hash into myst-nb's
   cache path, so a code change means an empty jupyter-cache and every page re-executes.
2. ``env-get-outdated``: when the hash differs from the one stored in Sphinx's pickled
   environment, every document is re-read (otherwise an unchanged page is never re-parsed and
   so never re-executed, and autodoc pages keep old docstrings).
3. ``config-inited``: when the hash differs from the one stamped in the gallery output folder,
   the ``*.md5`` files that sphinx-gallery uses to skip unchanged scripts are removed, so every
   script runs again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

STAMP_NAME = ".watched-source-hash"


def watched_hash(paths: list[Path]) -> str:
    """Hash the content and relative path of every ``*.py`` file under ``paths``."""
    digest = hashlib.sha256()
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root.parent)).encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def _current_hash(app) -> str:
    root = Path(app.confdir)
    return watched_hash([root / p for p in app.config.freshness_watch])


def _clear_gallery_md5(app, config) -> None:
    current = _current_hash(app)
    gallery_conf = getattr(config, "sphinx_gallery_conf", None) or {}
    dirs = gallery_conf.get("gallery_dirs", [])
    for gallery_dir in [dirs] if isinstance(dirs, str) else dirs:
        out = Path(app.srcdir) / gallery_dir
        stamp = out / STAMP_NAME
        if stamp.exists() and stamp.read_text() == current:
            continue
        for md5 in out.glob("**/*.md5"):
            md5.unlink()
        out.mkdir(parents=True, exist_ok=True)
        stamp.write_text(current)


def _outdated(app, env, added, changed, removed):
    current = _current_hash(app)
    if getattr(env, "freshness_hash", None) == current:
        return []
    env.freshness_hash = current
    return sorted(env.found_docs - set(added) - set(changed) - set(removed))


def setup(app):
    app.add_config_value("freshness_watch", ["chapter3"], "env")
    # Run before sphinx-gallery's own config-inited/builder-inited work.
    app.connect("config-inited", _clear_gallery_md5, priority=100)
    app.connect("env-get-outdated", _outdated)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
