"""Fixtures of the browser tests: one served hub with seeded journeys and one Chromium per test module, a fresh
browser context (cookies, storage) and page for every test.

Module scope, not session or package: while Playwright's sync API is started, asyncio.run fails on the main
thread (see browser.py), and the other modules of this package run asyncio scenarios."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dashboard.browser import TIMEOUT_MS, VIEWPORT, Hub, launch, require_chromium, running_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    """The served hub, with journeys of every kind already completed (see Hub.seed)."""
    with running_hub(tmp_path_factory.mktemp("dashboard")) as running:
        running.seed()
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def _context(browser, hub: Hub, **options):
    context = browser.new_context(viewport=VIEWPORT, base_url=hub.url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(browser, hub) -> Iterator:
    context = _context(browser, hub)
    yield context
    context.close()


@pytest.fixture
def page(context) -> Iterator:
    page = context.new_page()
    yield page
    page.close()


@pytest.fixture
def script_errors(page) -> list[str]:
    """Uncaught exceptions and console errors of `page`'s scripts, from the test's start (a 4xx the test asks for
    is logged by Chromium as a console error "Failed to load resource"; request this only where none is)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    return errors


@pytest.fixture
def nojs_page(browser, hub) -> Iterator:
    """A page of a context with JavaScript disabled (the static parts must work without it)."""
    context = _context(browser, hub, java_script_enabled=False)
    page = context.new_page()
    yield page
    context.close()
