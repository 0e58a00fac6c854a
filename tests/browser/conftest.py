"""Fixtures of the browser tests: the built book served on 127.0.0.1, and Debian's Chromium.

The tests need ``_build/html`` (``make html``) and ``/usr/bin/chromium`` (``make browser``
installs it with apt-get when it is missing). Playwright drives that Chromium; Playwright's
own browser download is never used.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from book_server import CHROMIUM, CHROMIUM_ARGS, SITE, serve  # noqa: E402


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE} is not built: run `make html` first")
    return SITE


@pytest.fixture(scope="session")
def base_url(site):
    server = serve(site)
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
