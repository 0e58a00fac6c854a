"""The book serves the package it teaches: a wheel of ``chapter3`` built with every HTML build.

At ``builder-inited`` (HTML builders only) the package is built with ``pip wheel --no-deps
--no-build-isolation`` from a copy of its sources (so no ``build/`` folder appears in the
checkout), and the wheel is copied to ``<outdir>/run-it/``, beside the pages' notebooks and
scripts. The wheel is cached under ``_build/wheel/<hash>/``, keyed on the package's sources and
``pyproject.toml``, so an unchanged package is not rebuilt.

The ``{run-it-commands}`` directive writes the commands a reader types, with the wheel's exact
file name (from ``pyproject.toml``), and a download link to it; the "Run it yourself" page
uses it, so the page cannot name a wheel the build did not make.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri

logger = logging.getLogger(__name__)

OUT_DIR = "run-it"


def project_metadata(root: Path) -> tuple[str, str]:
    """``(name, version)`` from ``root/pyproject.toml``."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        name = re.search(r'^name\s*=\s*"([^"]+)"', text, re.MULTILINE).group(1)
        version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE).group(1)
        return name, version
    project = tomllib.loads(text)["project"]
    return project["name"], project["version"]


def wheel_name(root: Path) -> str:
    """The file name of the pure-Python wheel that ``root`` builds (PEP 427 naming)."""
    name, version = project_metadata(root)
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-py3-none-any.whl"


def _sources(root: Path, package: str) -> list[Path]:
    files = [root / "pyproject.toml", root / "README.md"]
    files += sorted(
        p
        for p in (root / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    return [f for f in files if f.is_file()]


def build_wheel(root: Path, cache: Path) -> Path:
    """Build (or reuse) the wheel of the project at ``root``; return its path."""
    name, _ = project_metadata(root)
    package = name.replace("-", "_")
    files = _sources(root, package)
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    folder = cache / digest.hexdigest()[:16]
    expected = folder / wheel_name(root)
    if expected.is_file():
        return expected
    with tempfile.TemporaryDirectory(prefix="wheel-src-") as tmp:
        for file in files:
            target = Path(tmp) / file.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(folder),
            tmp,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not expected.is_file():
            raise ExtensionError(
                f"wheel: building the {name} wheel failed:\n{result.stdout}{result.stderr}"
            )
    return expected


def serve_wheel(app) -> None:
    """``builder-inited``: put the wheel into the HTML output."""
    if app.builder.format != "html":
        return
    root = Path(app.confdir)
    wheel = build_wheel(root, root / "_build" / "wheel")
    out = Path(app.outdir) / OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, out / wheel.name)
    logger.info(f"wheel: {OUT_DIR}/{wheel.name}")


class RunItCommands(SphinxDirective):
    """The commands that set up a reader's environment, naming the book's wheel."""

    has_content = False

    def run(self):
        root = Path(self.config.run_it_root)
        wheel = wheel_name(root)
        # The page names the wheel: re-read it when the version or this code changes.
        self.env.note_dependency(str(root / "pyproject.toml"))
        self.env.note_dependency(__file__)
        torch = self.config.run_it_torch
        href = relative_uri(self.env.docname, f"{OUT_DIR}/{wheel}")
        download = nodes.paragraph()
        download += nodes.Text("The wheel: ")
        download += nodes.reference(wheel, "", nodes.literal(wheel, wheel), refuri=href)
        download += nodes.Text(" (pure Python; it needs torch 2.2 or newer).")
        lines = [
            ("python3 -m venv attention-env", ""),
            (
                "source attention-env/bin/activate",
                "Windows: attention-env\\Scripts\\activate",
            ),
            (f"pip install {torch}", "or any torch >= 2.2"),
            (f'pip install "./{wheel}[plots]"', "the book's package, with matplotlib"),
            ("pip install jupyterlab", "to open the notebooks"),
        ]
        # Each note on its own line above its command: aligned to the right of the longest
        # command (the wheel's name) they made the block scroll sideways at 1280 px.
        commands = "\n".join(
            (f"# {note}\n{command}") if note else command for command, note in lines
        )
        block = nodes.literal_block(commands, commands, language="bash")
        return [download, block]


def _default_root(app, config) -> None:
    if not config.run_it_root:
        config.run_it_root = str(app.confdir)


def setup(app):
    app.add_config_value("run_it_torch", "torch==2.13.0", "env")
    # The project whose wheel the book serves (default: the folder of conf.py).
    app.add_config_value("run_it_root", "", "env")
    app.connect("config-inited", _default_root)
    app.add_directive("run-it-commands", RunItCommands)
    app.connect("builder-inited", serve_wheel)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
