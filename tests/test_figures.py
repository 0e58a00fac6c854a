"""Figures: the concept figures drawn at build time, and the heatmap and dark-mode helpers.

The concept figures are drawn here at a low resolution (the build draws them at 150 dpi);
the point is that every registered figure draws in both variants, has real alt text, and is
shown by some page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from chapter3.heatmap import (  # noqa: E402
    CELL_LABEL_GID,
    DARK_TEXT,
    LIGHT_TEXT,
    annotate_heatmap,
    contrast_ratio,
    relative_luminance,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import concept_figures  # noqa: E402
import light_dark  # noqa: E402
from figure_style import restyle_for_dark  # noqa: E402

REGISTRY = concept_figures.load_registry(DOCS)
NAMES = [figure.name for figure in REGISTRY.FIGURES]


def test_at_least_twelve_concept_figures_with_unique_names():
    assert len(NAMES) >= 12
    assert len(set(NAMES)) == len(NAMES)
    assert concept_figures.check_registry(REGISTRY) == []


@pytest.mark.parametrize("figure", REGISTRY.FIGURES, ids=NAMES)
def test_alt_text_is_a_sentence_not_a_file_name(figure):
    alt = figure.alt
    assert len(alt.split()) >= 8, alt
    assert not re.search(r"\.(png|svg)\b|[0-9a-f]{12,}|_generated|/", alt), alt
    assert figure.caption.strip()


def test_every_figure_is_shown_on_its_page_and_only_known_figures_are_used():
    used = {}
    for page in DOCS.glob("*.md"):
        for name in re.findall(
            r"^```\{concept-figure\}\s+(\S+)", page.read_text(), re.M
        ):
            used.setdefault(name, []).append(page.stem)
    assert set(used) == set(NAMES), set(used) ^ set(NAMES)
    for figure in REGISTRY.FIGURES:
        assert used[figure.name] == [figure.page], (figure.name, used[figure.name])


def test_the_extension_draws_both_variants_of_every_figure(tmp_path):
    written = concept_figures.draw_all(DOCS, tmp_path, dpi=20)
    expected = {
        concept_figures.image_name(name, variant)
        for name in NAMES
        for variant in concept_figures.VARIANTS
    }
    assert {p.name for p in written} == expected
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = plt.imread(path)
        assert image.shape[2] == 4 and image[0, 0, 3] == 0, "background not transparent"


def test_the_figure_hash_follows_the_drawing_code_and_the_package(tmp_path):
    figures = tmp_path / "docs" / "_figures"
    package = tmp_path / "chapter3"
    figures.mkdir(parents=True)
    package.mkdir()
    (figures / "fig_a.py").write_text("A = 1\n")
    (package / "m.py").write_text("B = 1\n")
    first = concept_figures.source_hash(tmp_path / "docs", [package])
    (package / "m.py").write_text("B = 2\n")
    second = concept_figures.source_hash(tmp_path / "docs", [package])
    (figures / "fig_a.py").write_text("A = 2\n")
    third = concept_figures.source_hash(tmp_path / "docs", [package])
    assert len({first, second, third}) == 3


# --- the heatmap helper ----------------------------------------------------------------------


def test_luminance_and_contrast():
    assert relative_luminance("black") == 0.0
    assert relative_luminance("white") == 1.0
    assert contrast_ratio("white", "black") == pytest.approx(21.0)


@pytest.mark.parametrize("cmap", ["Blues", "viridis", "Greys"])
def test_heatmap_labels_are_light_on_dark_cells_and_dark_on_light_cells(cmap):
    values = [[i / 10 for i in range(11)]]
    fig, ax = plt.subplots()
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=1)
    texts = annotate_heatmap(ax, values)
    for value, label in zip(values[0], texts, strict=True):
        cell = image.cmap(image.norm(value))
        if relative_luminance(cell[:3]) < 0.15:
            assert label.get_color() == LIGHT_TEXT, (cmap, value)
        if relative_luminance(cell[:3]) > 0.5:
            assert label.get_color() == DARK_TEXT, (cmap, value)
        # whichever it picks, the label reads: WCAG AA for large text at least
        assert contrast_ratio(label.get_color(), cell[:3]) >= 3.0
        assert label.get_gid() == CELL_LABEL_GID
    plt.close(fig)


def test_heatmap_hidden_cells_and_labels():
    fig, ax = plt.subplots()
    ax.imshow([[0.0, 1.0]], cmap="Blues", vmin=0, vmax=1)
    texts = annotate_heatmap(
        ax, [[0.0, 1.0]], hidden=[[True, False]], labels=[["a", "b"]]
    )
    assert [t.get_text() for t in texts] == ["–", "b"]
    plt.close(fig)
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="imshow"):
        annotate_heatmap(ax, [[1.0]])
    plt.close(fig)


def test_restyle_for_dark_recolors_the_page_but_not_the_data():
    fig, ax = plt.subplots()
    ax.imshow([[0.0, 1.0]], cmap="Blues", vmin=0, vmax=1)
    (cell_label,) = annotate_heatmap(ax, [[0.0, 1.0]])[:1]
    ax.set_title("a title")
    ax.plot([0, 1], [0, 1], color="C1")
    ax.plot([0, 1], [1, 0], color="black")
    ax.text(0.5, 1.1, "the red arrow", color="crimson", transform=ax.transAxes)
    ax.annotate("", (1.2, 0.3), (-0.3, -0.3), arrowprops={"arrowstyle": "-|>"})
    restyle_for_dark(fig)
    page = plt.matplotlib.colors.to_rgba
    assert page(fig.patch.get_facecolor())[3] == 0
    assert page(ax.patch.get_facecolor())[3] == 0
    assert relative_luminance(ax.title.get_color()) > 0.5
    assert all(relative_luminance(t.get_color()) > 0.5 for t in ax.get_xticklabels())
    assert cell_label.get_color() == DARK_TEXT  # on its light cell, unchanged
    assert ax.lines[0].get_color() == "C1"  # a data color stays
    # black on the page turns light
    assert relative_luminance(ax.lines[1].get_color()) > 0.5
    (label,) = [t for t in ax.texts if t.get_text() == "the red arrow"]
    assert label.get_color() == "crimson"  # a colored label stays, it reads
    plt.close(fig)


def test_the_gallery_scraper_writes_a_light_and_a_dark_file(tmp_path):
    plt.close("all")  # the scraper saves every open figure
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.suptitle("A rising line")
    paths = iter([str(tmp_path / "sphx_glr_plot_x_001.png")])
    rst = light_dark.scraper(
        None, {"image_path_iterator": paths}, {"src_dir": str(tmp_path)}
    )
    assert (tmp_path / "sphx_glr_plot_x_001.png").is_file()
    assert (tmp_path / "sphx_glr_plot_x_001_dark.png").is_file()
    assert ".. container:: only-light" in rst and ".. container:: only-dark" in rst
    assert rst.count(":alt: A rising line") == 2
    assert (
        light_dark.dark_variants_missing(["/sphx_glr_plot_x_001.png"], tmp_path) == []
    )


# --- figures of executed pages (docs/_ext/notebook_figures.py) -------------------------------


def test_light_dark_html_shows_two_variants_with_the_titles_as_alt_text():
    from figure_style import light_dark_html

    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40)
    ax.plot([0, 1], color="black")
    ax.set_title('Loss & "accuracy"')
    html = light_dark_html(fig)
    assert html.count("<img ") == 2
    assert 'class="only-light"' in html and 'class="only-dark"' in html
    assert html.count('alt="Loss &amp; &quot;accuracy&quot;"') == 2
    assert ax.lines[0].get_color() == "black", "the shown figure itself must not change"
    assert plt.get_fignums() == [fig.number], "the dark copy must not stay open"
    plt.close(fig)


def test_alt_text_of_an_untitled_figure_lists_its_labels_not_its_ticks():
    from figure_style import figure_alt_text

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    ax.text(0.5, 0.5, "last hidden state")
    ax.set_xlabel("step")
    assert figure_alt_text(fig) == "A figure labelled: last hidden state"
    plt.close(fig)


def test_the_kernel_registers_the_html_formatter_for_figures():
    from types import SimpleNamespace

    from figure_style import light_dark_html, register_light_dark_display
    from matplotlib.figure import Figure

    class Formatter:
        def __init__(self):
            self.types = {}

        def for_type(self, cls, func):
            self.types[cls] = func

    hooks = []
    html = Formatter()
    shell = SimpleNamespace(
        display_formatter=SimpleNamespace(formatters={"text/html": html}),
        events=SimpleNamespace(register=lambda name, f: hooks.append((name, f))),
    )
    assert register_light_dark_display(shell)
    assert html.types[Figure] is light_dark_html
    html.types.clear()  # what configuring the inline backend does
    ((name, hook),) = hooks
    assert name == "pre_run_cell"
    hook(None)
    assert html.types[Figure] is light_dark_html


def test_the_startup_file_calls_the_package(tmp_path):
    import notebook_figures

    path = notebook_figures.startup_file(tmp_path)
    assert path.parts[-3:] == ("profile_default", "startup", "00-light-dark.py")
    assert "register_light_dark_display()" in notebook_figures.STARTUP
    compile(notebook_figures.STARTUP, str(path), "exec")
