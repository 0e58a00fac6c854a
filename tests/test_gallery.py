"""The gallery: every script runs as a plain program, and the build guard catches what it must.

Each ``gallery/**/plot_*.py`` runs headless (``MPLBACKEND=Agg``) in a subprocess from the
repository root, the way a reader runs it. The guard (``docs/_ext/gallery_guard.py``) is
tested on a tiny Sphinx project of its own: a real build, a no-change rebuild that skips the
script, and builds in which a script fails, did not run, or lost its figure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import gallery_guard  # noqa: E402

SCRIPTS = sorted((ROOT / "gallery").rglob("plot_*.py"))
SECTIONS = ["attention", "masks", "multihead", "adder"]


def run_script(script: Path, timeout: int = 240, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "MPLBACKEND": "Agg", **env}
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_scripts_are_found_in_every_section():
    assert SCRIPTS, "no gallery scripts found"
    for script in SCRIPTS:
        assert script.parent.name in SECTIONS, (
            f"{script} is outside the gallery's sections"
        )
    for section in SECTIONS:
        assert (ROOT / "gallery" / section / "README.txt").is_file()


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_is_a_gallery_example(script):
    text = script.read_text(encoding="utf-8")
    title = re.match(r'"""\n(.+)\n(=+)\n', text)
    assert title, (
        f"{script.name} must open with a docstring whose first line is the title"
    )
    assert len(title.group(2)) >= len(title.group(1)), "title underline too short"
    assert text.count("# %%") >= 2, "cells with prose between them (# %%)"
    assert "plt.show()" in text, "a gallery example shows at least one figure"


TRAIN_ADDER = ROOT / "gallery" / "adder" / "plot_train_adder.py"
OTHERS = [s for s in SCRIPTS if s != TRAIN_ADDER]


@pytest.mark.slow
@pytest.mark.parametrize("script", OTHERS, ids=[s.stem for s in OTHERS])
def test_script_runs_headless(script):
    # The adder scripts use chapter3.adder.trained_adder: the first caller of a build (or of
    # this test run) trains the fast recipe once, every later one loads it from the cache.
    result = run_script(script, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_train_adder_prints_its_accuracy_and_answers():
    result = run_script(TRAIN_ADDER, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(
        r"^every sum: (\d+)/(\d+) right \(train (\d+)/(\d+), val (\d+)/(\d+), "
        r"test (\d+)/(\d+)\)$",
        result.stdout,
        re.MULTILINE,
    )
    assert match, result.stdout
    correct, total, *parts = (int(g) for g in match.groups())
    assert total == 10_000 and total == sum(parts[1::2])
    assert correct == sum(parts[0::2])
    assert correct >= 9_900, (
        f"the fast recipe's adder got only {correct} of 10,000 right"
    )
    # the hardest carries are answered, and every line of the table says "yes"
    for line in (
        "99+99=   99+99=198   99+99=198    yes",
        "50+50=   50+50=100   50+50=100    yes",
    ):
        assert line in result.stdout
    table = result.stdout.split("in training split", 1)[1].strip().splitlines()
    assert len(table) == 11 and all(row.split()[3] == "yes" for row in table), table


@pytest.mark.slow
def test_heatmaps_print_the_chapter_weights():
    result = run_script(ROOT / "gallery" / "attention" / "plot_attention_heatmaps.py")
    assert result.returncode == 0, result.stderr[-3000:]
    # 3.4 (SelfAttention_v2, seed 789) first row and the causal 3.5 second row of the chapter
    assert "[0.1921, 0.1646, 0.1652, 0.1550, 0.1721, 0.1510]" in result.stdout
    assert "[0.5517, 0.4483, 0.0000, 0.0000, 0.0000, 0.0000]" in result.stdout


# --- the guard, unit by unit ------------------------------------------------------------------


def test_recorded_seconds():
    page = "**Total running time of the script:** (1 minutes 2.500 seconds)"
    assert gallery_guard.recorded_seconds(page) == 62.5
    assert gallery_guard.recorded_seconds("no timing line") == 0.0
    zero = "**Total running time of the script:** (0 minutes 0.000 seconds)"
    assert gallery_guard.recorded_seconds(zero) == 0.0


PAGE = """
.. image-sg:: /auto_gallery/images/sphx_glr_plot_a_001.png
   :alt: {alt}
   :srcset: /auto_gallery/images/sphx_glr_plot_a_001.png
   :class: sphx-glr-single-img

   **Total running time of the script:** (0 minutes {seconds} seconds)
"""


def fake_gallery(
    tmp_path,
    name="plot_a.py",
    seconds="1.250",
    alt="A line",
    image=True,
    cost=1.25,
    dark=True,
):
    src = tmp_path / "docs"
    examples, gallery = tmp_path / "gallery", src / "auto_gallery"
    (gallery / "images").mkdir(parents=True)
    examples.mkdir()
    (examples / name).write_text('"""\nA\n=\n"""\n')
    stem = Path(name).stem
    (gallery / f"{stem}.rst").write_text(PAGE.format(alt=alt, seconds=seconds))
    if image:
        (gallery / "images" / "sphx_glr_plot_a_001.png").write_bytes(b"png")
        if dark:
            (gallery / "images" / "sphx_glr_plot_a_001_dark.png").write_bytes(b"png")
    if cost is not None:
        (gallery / f"{stem}.cost.json").write_text(f'{{"time": {cost}, "memory": 0}}')
    conf = {
        "plot_gallery": True,
        "examples_dirs": "../gallery",
        "gallery_dirs": "auto_gallery",
        "filename_pattern": r"/plot_",
        "ignore_pattern": r"__init__\.py",
        "failing_examples": {},
        "image_scrapers": ("light_dark.scraper",),
    }
    app = SimpleNamespace(
        srcdir=str(src), config=SimpleNamespace(sphinx_gallery_conf=conf)
    )
    return app, examples / name


def test_guard_passes_a_script_that_ran(tmp_path):
    app, _ = fake_gallery(tmp_path)
    gallery_guard.check_gallery(app)  # no exception


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seconds": "0.000"}, "records no run time"),
        ({"image": False}, "does not exist"),
        ({"alt": "plot a"}, "no real alt text"),
        ({"alt": "_images/3f2a9c1be0d47a6e.png"}, "no real alt text"),
        ({"dark": False}, "has no dark variant"),
        ({"cost": None}, "execution-times page would list it at 0 s"),
        ({"cost": 0.0}, "execution-times page would list it at 0 s"),
        ({"name": "show_a.py"}, "does not match filename_pattern"),
    ],
)
def test_guard_fails_a_script_that_did_not_run(tmp_path, kwargs, message):
    app, _ = fake_gallery(tmp_path, **kwargs)
    with pytest.raises(Exception, match=message):
        gallery_guard.check_gallery(app)


def test_guard_reports_failing_scripts(tmp_path):
    app, script = fake_gallery(tmp_path)
    app.config.sphinx_gallery_conf["failing_examples"] = {
        str(script): "Traceback: boom"
    }
    with pytest.raises(Exception, match="boom"):
        gallery_guard.check_gallery(app)


def test_guard_is_off_without_plot_gallery(tmp_path):
    app, _ = fake_gallery(tmp_path, seconds="0.000")
    app.config.sphinx_gallery_conf["plot_gallery"] = False
    gallery_guard.check_gallery(app)  # a no-plot build runs nothing, by request


# --- the guard in a real Sphinx build ---------------------------------------------------------

CONF = f"""
import sys
sys.path.insert(0, {str(ROOT / "docs" / "_ext")!r})
extensions = ["sphinx_gallery.gen_gallery", "gallery_guard"]
exclude_patterns = ["_build", "auto_gallery/**.ipynb"]
sphinx_gallery_conf = {{
    "examples_dirs": "../gallery",
    "gallery_dirs": "auto_gallery",
    "filename_pattern": r"/plot_",
    "write_computation_times": True,
}}
"""

SCRIPT = '''"""
A line
======

A tiny example.
"""

# %%
import matplotlib.pyplot as plt

plt.plot([0, 1], [0, {slope}])
plt.title("a line")
plt.show()
'''


def sphinx_build(src: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-q",
            *options,
            str(src),
            str(src / "_build"),
        ],
        cwd=src,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_guard_in_a_real_build(tmp_path):
    src, gallery = tmp_path / "docs", tmp_path / "gallery"
    src.mkdir()
    gallery.mkdir()
    (src / "conf.py").write_text(CONF)
    (src / "index.rst").write_text(
        "Tiny\n====\n\n.. toctree::\n\n   auto_gallery/index\n   sg_execution_times\n"
    )
    (gallery / "README.txt").write_text("Gallery\n=======\n")
    (gallery / "plot_line.py").write_text(SCRIPT.format(slope=1))

    first = sphinx_build(src)
    assert first.returncode == 0, first.stderr
    page = (src / "auto_gallery" / "plot_line.rst").read_text()
    assert gallery_guard.recorded_seconds(page) > 0

    # a no-change rebuild skips the script (MD5 unchanged) and the guard lets it through
    second = sphinx_build(src)
    assert second.returncode == 0, second.stderr
    assert (src / "auto_gallery" / "plot_line.rst").read_text() == page

    # the figure vanished but the MD5 stamp says "nothing to do": the guard fails the build
    image = src / "auto_gallery" / "images" / "sphx_glr_plot_line_001.png"
    image.unlink()
    lost = sphinx_build(src)
    assert lost.returncode != 0
    assert "does not exist" in lost.stderr

    # a script that raises fails the build (sphinx-gallery's default, kept on purpose)
    (gallery / "plot_line.py").write_text(
        SCRIPT.format(slope=1) + "\nraise RuntimeError('x')\n"
    )
    failed = sphinx_build(src)
    assert failed.returncode != 0
    assert "RuntimeError" in failed.stderr

    # a script whose name misses the pattern is never executed: the guard fails the build
    (gallery / "plot_line.py").unlink()
    (gallery / "line.py").write_text(SCRIPT.format(slope=2))
    skipped = sphinx_build(src)
    assert skipped.returncode != 0
    assert "does not match filename_pattern" in skipped.stderr

    # a build that asks not to run the gallery (make doctest: -D plot_gallery=0) is let through
    no_plot = sphinx_build(src, "-D", "plot_gallery=0")
    assert no_plot.returncode == 0, no_plot.stderr


def test_gallery_sections_are_configured_in_order():
    conf = textwrap.dedent((ROOT / "conf.py").read_text())
    order = re.search(r'"subsection_order": \[(.*?)\]', conf, re.DOTALL).group(1)
    assert re.findall(r'"\.\./gallery/(\w+)"', order) == SECTIONS
    assert '"gallery_guard"' in conf
