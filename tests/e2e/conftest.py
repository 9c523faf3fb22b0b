"""Browser tests: the portal served by a real HTTP server in a thread, driven by Debian's chromium through Playwright.

Every test here is marked ``e2e``. The live server uses the same database as the session ``app`` fixture, and every
fixture below requests ``app``, so the autouse cleanup in tests/conftest.py empties the tables after each test.

Each page records what would show a broken front end: console errors (a Content-Security-Policy violation is one),
failed requests, and sub-resources (CSS, JS, images) answered with an error status. A test fails if any were seen.
Main documents with an error status are expected on the error-page tests and are not counted.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from flask import Blueprint, send_file
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from portal.access import public
from tests.conftest import make_app
from tests.e2e.helpers import AXE_SCRIPT, E2E_DIR, PageProblems
from tests.helpers import failing_routes

# An expectation waits up to 10 seconds (Playwright's default is 5) for the page to get there: CI runs the SQLite and
# PostgreSQL suites at once on 2 cores, and an htmx answer from the in-process server has taken longer than 5 then.
expect.set_options(timeout=10_000)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]


def pytest_collection_modifyitems(config, items):
    # A conftest's collection hook sees every item of the run: mark only the ones in this folder.
    browser_tests = [item for item in items if E2E_DIR in Path(item.path).resolve().parents]
    for item in browser_tests:
        item.add_marker(pytest.mark.e2e)
    # .ci/run runs two suites at once: the SQLite one takes its browser tests last (the workers take files in this
    # order), so the two suites' browsers overlap as little as they can.
    if os.environ.get("TEST_BROWSER_LAST"):
        items[:] = [item for item in items if item not in browser_tests] + browser_tests


# axe-core is served from the live server's own origin, so the page's strict CSP (script-src 'self' 'nonce-…') allows
# it. Injecting it inline (add_script_tag(path=...) or content=...) is refused by that CSP; the usual way round is
# new_context(bypass_csp=True), but then the page axe checks is not the page users get (a style or script the CSP
# blocks would be applied), and CSP regressions would go unnoticed on exactly the pages we check. Test-only route.
e2e_assets = Blueprint("e2e_assets", __name__, url_prefix="/_e2e")


@e2e_assets.get("/axe.js")  # AXE_URL_PATH in helpers.py
@public
def axe_script():
    return send_file(AXE_SCRIPT, mimetype="text/javascript")


@pytest.fixture(scope="session")
def live_server(app, database_url):
    """The base URL of the portal served in a daemon thread; errors render the house error pages, never a trace."""
    server_app = make_app(database_url, PROPAGATE_EXCEPTIONS=False)
    server_app.register_blueprint(failing_routes)
    server_app.register_blueprint(e2e_assets)
    server = make_server("127.0.0.1", 0, server_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        from portal.extensions import db

        with server_app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"The browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium); "
            "Playwright's own browser download is not used.",
            pytrace=False,
        )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_page(app, browser: Browser, live_server: str):
    """new_page(**context_options) -> a Page in a fresh browser context whose base URL is the live server.

    Contexts are closed after the test, and the test fails if any page logged a console error (a CSP violation is
    one), had a request fail, or had a sub-resource answered with an error status.
    """
    contexts = []
    watchers: list[tuple[str, PageProblems]] = []

    def make(**context_options) -> Page:
        context = browser.new_context(base_url=live_server, **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()
        problems.watch(page)
        watchers.append((f"page {len(watchers) + 1} {context_options or ''}".strip(), problems))
        return page

    yield make

    for context in contexts:
        context.close()
    found = [f"{name}: {problem}" for name, problems in watchers for problem in problems.report()]
    if found:
        pytest.fail("The browser saw problems on the page:\n" + "\n".join(found), pytrace=False)


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


@pytest.fixture
def no_js_page(new_page) -> Page:
    return new_page(java_script_enabled=False)

