"""The book must work offline: the guard finds remote assets and strips the gallery's CDN block."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))

import offline  # noqa: E402


def test_remote_scripts_and_stylesheets_are_found():
    html = (
        '<script src="_static/furo.js"></script>'
        '<script src="https://code.jquery.com/jquery-3.7.0.js"></script>'
        '<link href="//cdn.example.org/x.min.css" rel="stylesheet" />'
        '<link href="_static/pygments.css" rel="stylesheet" />'
        '<a href="https://example.org/page.html">a link is fine</a>'
    )
    found = offline.remote_assets(html)
    assert len(found) == 2
    assert "jquery" in found[0] and "cdn.example.org" in found[1]


def test_execution_times_page_loses_its_cdn_block_but_keeps_the_table():
    source = [
        "Times\n=====\n\n.. container::\n\n  .. raw:: html\n\n"
        '    <script src="https://code.jquery.com/jquery-3.7.0.js"></script>\n'
        "    </script>\n\n  .. list-table::\n   :header-rows: 1\n\n   * - Example\n"
    ]
    offline._drop_cdn_block(None, "sg_execution_times", source)
    assert "https://" not in source[0]
    assert ".. list-table::" in source[0] and "* - Example" in source[0]
    other = ["  .. raw:: html\n\n    <b>x</b>\n  .. list-table::\n"]
    offline._drop_cdn_block(None, "masks", other)
    assert ".. raw:: html" in other[0]
