"""Swagger UI and ReDoc in a real browser (headless Chromium), with no request leaving the machine.

What a student does first: open /docs, press Authorize, sign in as a demo user, try
`GET /users/me`. This test does exactly that against a real server (`python -m blog`, seeded with
`python -m blog seed`), records every request the browser makes, and fails if any of them goes
anywhere but the app. (ReDoc's bundle asks for its makers' logo from a CDN; the docs pages'
Content-Security-Policy makes the browser block that before it is sent, which is allowed here.)
Set BLOG_SCREENSHOTS to a folder to keep the screenshots it takes.
"""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from blog.seed import DEMO_PASSWORD
from tests.servers import REPO_ROOT, free_port, request, running, wait_until_healthy

CHROMIUM = "/usr/bin/chromium"
# Headless as root, and without the background traffic Chromium sends to Google by default.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-dev-shm-usage",  # a container's /dev/shm is too small for Chromium's shared memory
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.slow
TAGS = ["auth", "users", "posts", "comments", "health"]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A seeded server on a fresh SQLite file, as a student would start it."""
    folder = tmp_path_factory.mktemp("docs")
    environment = {
        **{key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
        "PYTHONPATH": str(REPO_ROOT),
        "ENVIRONMENT": "development",
        "BCRYPT_ROUNDS": "4",
    }
    with running([sys.executable, "-m", "blog", "seed"], environment, cwd=folder) as seeding:
        assert seeding.wait(timeout=60) == 0
    port = free_port()
    command = [sys.executable, "-m", "blog", "--port", str(port)]
    with running(command, environment, cwd=folder) as server:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server)
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class RequestsElsewhere:
    """Every request a page starts for anything but the app, and what became of it."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.outcomes: dict[str, str | None] = {}
        own = (base_url, "data:", "blob:")
        page.on("request", lambda r: None if r.url.startswith(own) else self._started(r.url))
        page.on("requestfailed", lambda r: self._ended(r.url, r.failure or "failed"))
        page.on("requestfinished", lambda r: self._ended(r.url, "sent"))

    def _started(self, url: str) -> None:
        self.outcomes[url] = None

    def _ended(self, url: str, outcome: str) -> None:
        if url in self.outcomes:
            self.outcomes[url] = outcome

    def sent(self) -> list[str]:
        """The ones that left the browser: all but those its security policy blocked."""
        for _ in range(50):  # outcomes arrive asynchronously; give them up to 5 s
            if all(outcome is not None for outcome in self.outcomes.values()):
                break
            self.page.wait_for_timeout(100)
        return [url for url, outcome in self.outcomes.items() if outcome != "csp"]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 2000})
    yield context.new_page()
    context.close()


def screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("BLOG_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_swagger_ui_shows_every_operation_offline(page: Page, base_url: str) -> None:
    elsewhere = RequestsElsewhere(page, base_url)
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    tags = [tag.get_attribute("data-tag") for tag in page.query_selector_all(".opblock-tag")]
    assert tags == TAGS
    paths = request(f"{base_url}/openapi.json")[1]["paths"]
    operations = sum(len(methods) for methods in paths.values())
    assert len(page.query_selector_all(".opblock")) == operations == 22
    screenshot(page, "docs.png")
    assert elsewhere.sent() == []


def test_authorize_then_read_me_in_swagger_ui(page: Page, base_url: str) -> None:
    elsewhere = RequestsElsewhere(page, base_url)
    page.goto(f"{base_url}/docs")
    page.click("button.authorize", timeout=20_000)
    page.fill("#oauth_username", "ada")
    page.fill("#oauth_password", DEMO_PASSWORD)
    page.click(".auth-btn-wrapper button.authorize")
    page.wait_for_selector("text=Logout", timeout=10_000)
    page.click("button.btn-done")

    operation = "#operations-users-users-read_me"
    page.click(f"{operation} .opblock-summary")
    page.click(f"{operation} button.try-out__btn")
    page.click(f"{operation} button.execute")
    result = page.wait_for_selector(f"{operation} .live-responses-table tbody", timeout=10_000)
    assert result is not None
    status = result.query_selector(".response-col_status")
    assert status is not None and status.inner_text().strip() == "200"
    assert '"username": "ada"' in result.inner_text()
    screenshot(page, "docs-read-me.png")
    assert elsewhere.sent() == []


def test_redoc_renders_offline(page: Page, base_url: str) -> None:
    elsewhere = RequestsElsewhere(page, base_url)
    page.goto(f"{base_url}/redoc")
    heading = page.get_by_role("heading", name="Request Password Reset")
    heading.wait_for(timeout=20_000)
    assert page.get_by_role("heading", name="blog").first.is_visible()
    screenshot(page, "redoc.png")
    assert elsewhere.sent() == []
