"""Browser tests: Debian's Chromium, driven by pytest-playwright, against the real app served by
uvicorn in its own process with its own database (tests/live_server.py).

Fixtures for test writers:
- app_server: the running app for this test module, loaded with the demo (fiona, sam, lea, marc).
  Relative URLs work in every page: page.goto("/") opens app_server.url + "/".
- sign_in(page, username, password="journeymap"): signs in through the real login form.
- desktop (1440x900) and phone (375x812, touch) pages, in their own contexts desktop_context
  and phone_context; the plain pytest-playwright `page` (1280x720) works too.
- watch_errors(page): a list that collects the page's console errors (CSP violations included),
  uncaught exceptions and HTTP responses >= 400; assert it is empty at the end of a test.

Every test in this folder is marked `browser` and skipped when Chromium is not installed.
Nothing here touches the test database: do not request `db` in a browser test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    BrowserType,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Response,
    expect,
    sync_playwright,
)

from tests.live_server import LiveServer

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "journeymap"
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
HERE = Path(__file__).resolve().parent
# Screenshots go to docs/screenshots (the README shows them) when JOURNEYMAP_SCREENSHOTS=1,
# else to test-results/, so an ordinary test run leaves the tree clean.
SCREENSHOTS = (
    HERE.parents[1] / "docs" / "screenshots"
    if os.environ.get("JOURNEYMAP_SCREENSHOTS") == "1"
    else HERE.parents[1] / "test-results" / "screenshots"
)


def shot(name: str) -> str:
    """Where the test saves screenshot `name` (a .png file name)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


def listening(area: Locator) -> None:
    """Wait until what htmx swapped into `area` listens. htmx processes new content once it has
    settled, when it takes the htmx-added class off: a click before that does nothing, and a
    form submitted before it posts without htmx."""
    expect(area.locator(".htmx-added")).to_have_count(0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A conftest hook sees every collected item, so pick this folder's own.
    skip = pytest.mark.skip(
        reason=f"Chromium not found at {CHROMIUM} (install it, e.g. apt-get install chromium, "
        "or point CHROMIUM at the binary)"
    )
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(skip)


# While Playwright's sync API is running, the main thread has a running asyncio event loop, and
# Django refuses database access from it (SynchronousOnlyOperation). pytest-playwright keeps
# Playwright for the whole session, which would break every database test collected after this
# folder. These overrides keep Playwright and the browser for this folder only, so the rest of
# the suite keeps Django's async-safety checks as they are.


@pytest.fixture(scope="session")
def browser_type_launch_args(pytestconfig: pytest.Config) -> dict[str, Any]:
    return {
        "executable_path": str(CHROMIUM),
        "headless": not pytestconfig.getoption("--headed"),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def app_server() -> Iterator[LiveServer]:
    """The real app with the demo loaded, fresh for each test module."""
    server = LiveServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def browser_context_args(app_server: LiveServer) -> dict[str, Any]:
    return {"base_url": app_server.url, "locale": "en-GB", "timezone_id": "Europe/Zurich"}


@pytest.fixture
def desktop_context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    return new_context(**DESKTOP)


@pytest.fixture
def phone_context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    return new_context(**PHONE)


@pytest.fixture
def desktop(desktop_context: BrowserContext) -> Page:
    return desktop_context.new_page()


@pytest.fixture
def phone(phone_context: BrowserContext) -> Page:
    return phone_context.new_page()


def _sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> Page:
    page.goto("/accounts/login/")
    form = page.locator("form", has=page.locator('input[name="password"]'))
    form.locator('input[name="username"]').fill(username)
    form.locator('input[name="password"]').fill(password)
    with page.expect_navigation():
        form.locator('input[name="password"]').press("Enter")
    assert "/accounts/login/" not in page.url, f"signing in as {username!r} failed: {page.url}"
    return page


@pytest.fixture
def sign_in(app_server: LiveServer) -> Callable[..., Page]:
    """sign_in(page, username, password="journeymap") signs in through the login form."""
    return _sign_in


@pytest.fixture
def watch_errors() -> Callable[[Page], list[str]]:
    def watch(page: Page) -> list[str]:
        errors: list[str] = []

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                errors.append(f"console: {msg.text} ({msg.location.get('url', '')})")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                errors.append(f"HTTP {response.status}: {response.request.method} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        page.on("response", on_response)
        return errors

    return watch
