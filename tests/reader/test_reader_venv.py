"""A reader's copy runs: downloaded notebooks and scripts, in a venv with only what a reader has.

The test serves ``_build/html`` on 127.0.0.1, downloads from it the book's wheel, three page
notebooks with their scripts, and one gallery example (notebook and script), following the
links the pages show. It makes a fresh virtual environment holding only torch, the wheel (with
its ``plots`` extra) and a notebook executor (nbclient, ipykernel); executes everything there,
in a folder outside the checkout; and compares the outputs with the values the book checked:
every doctest output of a page notebook, and the printed output of the gallery page.

Run with ``make reader`` (part of ``make test``); it takes a minute or two, mostly installing
torch. Versions of everything but torch follow the development environment (a constraints
file from ``pip freeze``), so pip reuses its cache.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from checked import mismatches

pytestmark = pytest.mark.reader

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
VENV = ROOT / "_build" / "reader-venv"
WORK = ROOT / "_build" / "reader-run"
PAGES = ["ch3_3_simple_self_attention", "ch3_5_causal_attention", "masks"]
GALLERY = "auto_gallery/masks/plot_masks"
TORCH = os.environ.get("TORCH", "torch==2.13.0")


def _serve():
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from book_server import serve  # the browser tests' server

    return serve(SITE)


def _links(page_html: str, pattern: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(pattern, page_html)]


def _fetch(url: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / url.rsplit("/", 1)[1]
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - 127.0.0.1
        target.write_bytes(response.read())
    return target


def _reader_env(home: Path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        CHAPTER3_CACHE_DIR=str(home / "cache"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        IPYTHONDIR=str(home / "ipython"),
        MPLCONFIGDIR=str(home / "matplotlib"),
    )
    return env


@pytest.fixture(scope="module")
def downloads():
    """Everything a reader downloads, from the served book: {kind: [paths]}."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE} is not built: run `make html` first")
    shutil.rmtree(WORK, ignore_errors=True)
    server = _serve()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    got = {"wheel": [], "page": [], "script": [], "gallery": []}
    try:
        start = urllib.request.urlopen(base + "run_it_yourself.html").read().decode()
        (wheel,) = set(_links(start, r'href="([^"]+\.whl)"'))
        got["wheel"].append(_fetch(base + wheel, WORK / "download"))
        for page in PAGES:
            text = urllib.request.urlopen(f"{base}{page}.html").read().decode()
            (notebook,) = _links(text, r'class="takeaway-notebook" href="([^"]+)"')
            (script,) = _links(text, r'class="takeaway-script" href="([^"]+)"')
            got["page"].append(_fetch(base + notebook, WORK / "pages"))
            got["script"].append(_fetch(base + script, WORK / "pages"))
        text = urllib.request.urlopen(f"{base}{GALLERY}.html").read().decode()
        folder = base + GALLERY.rpartition("/")[0] + "/"
        for link in sorted(set(_links(text, r'href="([^"]+\.(?:ipynb|py))"'))):
            got["gallery"].append(
                _fetch(urllib.parse.urljoin(folder, link), WORK / "gallery")
            )
    finally:
        server.shutdown()
        server.server_close()
    assert len(got["gallery"]) == 2, got["gallery"]
    return got


@pytest.fixture(scope="module")
def reader_python(downloads):
    """A fresh venv with torch, the wheel (+ plots) and nbclient + ipykernel, nothing else."""
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(VENV)], check=True
    )
    python = VENV / "bin" / "python"
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    constraints = WORK / "constraints.txt"
    constraints.write_text(
        "\n".join(
            line
            for line in freeze.splitlines()
            if not re.match(r"(torch|chapter3)\b", line) and "@" not in line
        )
    )
    wheel = downloads["wheel"][0]
    subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
            "--constraint", str(constraints),
            TORCH, f"{wheel}[plots]", "nbclient", "ipykernel",
        ],
        check=True,
    )  # fmt: skip
    return python


@pytest.fixture(scope="module")
def executed(downloads, reader_python):
    """Run every download in the reader's venv; return the output folder."""
    out = WORK / "executed"
    files = downloads["page"] + downloads["script"] + downloads["gallery"]
    result = subprocess.run(
        [
            str(reader_python),
            str(Path(__file__).with_name("run_notebooks.py")),
            str(out),
        ]
        + [str(f) for f in files],
        cwd=WORK,
        env=_reader_env(WORK / "home"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return out


def test_kernels_ran_in_the_reader_venv(executed):
    rows = (executed / "kernel-python.txt").read_text().splitlines()
    assert len(rows) == len(PAGES) + 1
    for row in rows:
        name, prefix, package = row.split("\t")
        assert Path(prefix).resolve() == VENV.resolve(), row
        assert Path(package).resolve().is_relative_to(VENV.resolve()), row


@pytest.mark.parametrize("page", PAGES)
def test_page_notebook_gives_the_checked_outputs(downloads, executed, page):
    original = json.loads((WORK / "pages" / f"{page}.ipynb").read_text())
    ran = json.loads((executed / f"{page}.ipynb").read_text())
    count, problems = mismatches(original, ran)
    assert count >= 5, f"{page}: only {count} checked cells"
    assert not problems, f"{page}:\n" + "\n\n".join(problems)


def _page_outputs(name: str) -> str:
    text = (SITE / f"{name}.html").read_text(encoding="utf-8")
    blocks = re.findall(
        r'<div class="sphx-glr-script-out[^"]*"><div class="highlight"><pre>(.*?)</pre>',
        text,
        re.DOTALL,
    )
    return "".join(html.unescape(re.sub(r"<[^>]+>", "", b)) for b in blocks)


def test_gallery_example_gives_the_page_outputs(executed):
    expected = " ".join(_page_outputs(GALLERY).split())
    assert expected, "the gallery page shows no output to compare with"
    name = GALLERY.rpartition("/")[2]
    notebook = json.loads((executed / f"{name}.ipynb").read_text())
    printed = "".join(
        "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
        for cell in notebook["cells"]
        for o in cell.get("outputs", [])
        if o["output_type"] == "stream" and o["name"] == "stdout"
    )
    assert " ".join(printed.split()) == expected
    script_out = (executed / f"{name}.out").read_text()
    assert " ".join(script_out.split()) == expected


def test_page_scripts_run(executed):
    for page in PAGES:
        assert (executed / f"{page}.out").is_file(), page
